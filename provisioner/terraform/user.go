package terraform

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// own hands path (a file or a whole directory tree) to the user Terraform
// runs as, if any: what the worker wrote there (the template, state,
// variables) must be readable, and Terraform writes beside it. Symbolic
// links are changed themselves, never followed.
func (p *Provisioner) own(path string) error {
	if p.user == nil || path == "" {
		return nil
	}
	uid, gid := int(p.user.UID), int(p.user.GID)
	err := filepath.WalkDir(path, func(name string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(name, uid, gid)
	})
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("hand the job directory to the terraform user: %w", err)
	}
	return nil
}
