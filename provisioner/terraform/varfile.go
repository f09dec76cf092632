package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
)

// varFileName is the variables file plan reads, in the job directory.
const varFileName = "berth-variables.tfvars"

// writeVarFile writes a template's variable values into a tfvars file in
// the job directory (0700, the worker's alone) and returns its name, or ""
// when there is nothing to write. Values never go on the command line,
// where every user of the machine can read them (ps, /proc/<pid>/cmdline),
// sensitive ones included.
//
// The file keeps -var's meaning: the value of a variable typed string (or
// untyped) is a literal string, any other type's value is an HCL
// expression. Names the module does not declare are left out (terraform
// would refuse them as -var; a file cannot smuggle other settings in).
func writeVarFile(dir string, vars map[string]string) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return "", fmt.Errorf("read variable types: %w", diags.Err())
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		if _, ok := mod.Variables[n]; ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names)
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, n := range names {
		switch typ := mod.Variables[n].Type; typ {
		case "", "string":
			body.SetAttributeValue(n, cty.StringVal(vars[n]))
		default:
			body.SetAttributeRaw(n, hclwrite.Tokens{{Bytes: []byte(vars[n])}})
		}
	}
	if err := os.WriteFile(filepath.Join(dir, varFileName), f.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write terraform variables: %w", err)
	}
	return varFileName, nil
}
