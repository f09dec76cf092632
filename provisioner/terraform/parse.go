package terraform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/berth-dev/berth/provisioner"
)

// maxReadme bounds the README kept with a version.
const maxReadme = 1 << 20

// parse reads the root module's variable blocks and README.md.
func parse(dir string) (*provisioner.ParseResult, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		msgs := make([]string, 0, len(diags))
		for _, d := range diags {
			if d.Severity != tfconfig.DiagError {
				continue
			}
			msg := d.Summary
			if d.Detail != "" {
				msg += ": " + d.Detail
			}
			if d.Pos != nil {
				msg = fmt.Sprintf("%s:%d: %s", d.Pos.Filename, d.Pos.Line, msg)
			}
			msgs = append(msgs, msg)
		}
		return nil, &provisioner.JobError{Message: "parse terraform: " + strings.Join(msgs, "; ")}
	}
	vars := make([]*tfconfig.Variable, 0, len(mod.Variables))
	for _, v := range mod.Variables {
		vars = append(vars, v)
	}
	sort.Slice(vars, func(i, j int) bool {
		a, b := vars[i].Pos, vars[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Line < b.Line
	})
	out := &provisioner.ParseResult{Variables: make([]provisioner.Variable, 0, len(vars))}
	for _, v := range vars {
		pv, err := convertVariable(v)
		if err != nil {
			return nil, err
		}
		out.Variables = append(out.Variables, pv)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	switch {
	case err == nil:
		if len(readme) > maxReadme {
			readme = readme[:maxReadme]
		}
		out.Readme = string(readme)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read README.md: %w", err)
	}
	return out, nil
}

// convertVariable maps a variable block as Coder does: string, number and
// bool keep their type, anything else is a string; a non-string default
// is JSON-encoded; no default means required.
func convertVariable(v *tfconfig.Variable) (provisioner.Variable, error) {
	out := provisioner.Variable{
		Name: v.Name, Description: v.Description, Type: "string", Required: v.Required, Sensitive: v.Sensitive,
	}
	switch v.Type {
	case "string", "number", "bool":
		out.Type = v.Type
	}
	switch d := v.Default.(type) {
	case nil:
	case string:
		out.DefaultValue = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return out, &provisioner.JobError{Message: fmt.Sprintf("variable %q: encode default: %v", v.Name, err)}
		}
		out.DefaultValue = string(b)
	}
	return out, nil
}
