package httpapi

import (
	"regexp"
	"strings"

	"github.com/go-playground/validator/v10"
)

var (
	nameRe        = regexp.MustCompile(`^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$`)
	versionNameRe = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[_.-]{1}[a-zA-Z0-9]+)*$`)
)

// NameValid reports whether s is a valid user, template or workspace name.
func NameValid(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	if s == "new" || s == "create" {
		return false
	}
	return nameRe.MatchString(s)
}

// VersionNameValid reports whether s is a valid template version name.
func VersionNameValid(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && versionNameRe.MatchString(s)
}

// DisplayNameValid reports whether s is a valid display name (may be empty).
func DisplayNameValid(s string) bool {
	return len(s) <= 64 && strings.TrimSpace(s) == s
}

// customValidations are berth's validate tags: the name rules above, by
// the tag Coder gives each.
var customValidations = map[string]validator.Func{
	"username":       func(fl validator.FieldLevel) bool { return NameValid(fl.Field().String()) },
	"workspace_name": func(fl validator.FieldLevel) bool { return NameValid(fl.Field().String()) },
	"user_real_name": func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return len(s) <= 128 && strings.TrimSpace(s) == s
	},
	"template_name": func(fl validator.FieldLevel) bool {
		return NameValid(fl.Field().String())
	},
	"template_version_name": func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return s == "" || VersionNameValid(s)
	},
	"template_display_name": func(fl validator.FieldLevel) bool {
		return DisplayNameValid(fl.Field().String())
	},
}
