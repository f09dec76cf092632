package jobs

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/db"
)

// ResolveParameters computes a build's parameter values (API-NOTES §5.5):
// the requested value, else the previous build's (not for ephemeral
// parameters), else the default; then validates each. previous is nil for
// a workspace's first build. A problem is a *ParameterError.
func ResolveParameters(defs []db.TemplateVersionParameter, requested, previous map[string]string) ([]db.WorkspaceBuildParameter, error) {
	out := make([]db.WorkspaceBuildParameter, 0, len(defs))
	for _, d := range defs {
		value, given := requested[d.Name]
		prev, hadPrev := previous[d.Name]
		if given && hadPrev && !d.Mutable && value != prev {
			return nil, &ParameterError{Name: d.Name, Problem: ParameterImmutable}
		}
		if !given {
			switch {
			case hadPrev && !d.Ephemeral:
				value = prev
			default:
				value = d.DefaultValue
			}
		}
		if value == "" && d.Required && !(given || hadPrev && !d.Ephemeral) {
			return nil, &ParameterError{Name: d.Name, Problem: ParameterRequired}
		}
		if err := validateParameter(d, value, prev, hadPrev); err != nil {
			return nil, &ParameterError{Name: d.Name, Problem: ParameterInvalid, Detail: err.Error()}
		}
		out = append(out, db.WorkspaceBuildParameter{Name: d.Name, Value: value})
	}
	return out, nil
}

func validateParameter(d db.TemplateVersionParameter, value, prev string, hadPrev bool) error {
	var options []struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(d.Options, &options)
	allowed := make([]string, 0, len(options))
	for _, o := range options {
		allowed = append(allowed, o.Value)
	}
	switch d.Type {
	case "bool":
		if value != "true" && value != "false" {
			return fmt.Errorf("boolean value can be either \"true\" or \"false\"")
		}
	case "list(string)":
		var items []string
		if err := json.Unmarshal([]byte(value), &items); err != nil {
			return fmt.Errorf("a list(string) value must be a JSON array of strings")
		}
		if len(allowed) > 0 {
			for _, it := range items {
				if !slices.Contains(allowed, it) {
					return fmt.Errorf("value %q is not one of the options", it)
				}
			}
		}
		return nil
	case "number":
		n, err := strconv.ParseFloat(value, 64)
		// ParseFloat reads "NaN" and "Inf", which no bound can check and
		// Terraform does not take as a number.
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("value %q is not a number", value)
		}
		if d.ValidationMin != nil && n < float64(*d.ValidationMin) {
			return fmt.Errorf("value %s is less than the minimum %d", value, *d.ValidationMin)
		}
		if d.ValidationMax != nil && n > float64(*d.ValidationMax) {
			return fmt.Errorf("value %s is more than the maximum %d", value, *d.ValidationMax)
		}
		if hadPrev && d.ValidationMonotonic != "" {
			p, err := strconv.ParseFloat(prev, 64)
			if err == nil {
				if d.ValidationMonotonic == "increasing" && n < p {
					return fmt.Errorf("value %s must be equal or greater than previous value %s", value, prev)
				}
				if d.ValidationMonotonic == "decreasing" && n > p {
					return fmt.Errorf("value %s must be equal or lower than previous value %s", value, prev)
				}
			}
		}
	}
	if len(allowed) > 0 && !slices.Contains(allowed, value) {
		return fmt.Errorf("value %q is not one of the options", value)
	}
	if d.ValidationRegex != "" {
		re, err := regexp.Compile(d.ValidationRegex)
		if err != nil {
			return fmt.Errorf("invalid validation regex: %v", err)
		}
		if !re.MatchString(value) {
			if d.ValidationError != "" {
				return fmt.Errorf("%s", d.ValidationError)
			}
			return fmt.Errorf("value %q does not match %s", value, d.ValidationRegex)
		}
	}
	return nil
}
