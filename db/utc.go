package db

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Postgres returns timestamptz values in the session's time zone. Every
// model converts its times to UTC after a scan, so the API always answers
// in UTC whatever the connection's zone.

var (
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
)

// toUTC converts the time.Time and *time.Time fields of the struct v points
// to (including embedded and nested structs) to UTC.
func toUTC(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return
	}
	rv = rv.Elem()
	for _, path := range timeFields(rv.Type()) {
		f := rv.FieldByIndex(path)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		t := (*time.Time)(f.Addr().UnsafePointer())
		*t = t.UTC()
	}
}

// timeFieldPaths caches timeFields per struct type: a scan converts every
// row, and walking every field of a wide model by reflection for each one
// cost 7% of a workspace list's CPU.
var timeFieldPaths sync.Map // reflect.Type → [][]int

// timeFields returns the index paths of a struct type's exported time.Time
// and *time.Time fields, in embedded and nested structs too.
func timeFields(t reflect.Type) [][]int {
	if p, ok := timeFieldPaths.Load(t); ok {
		return p.([][]int)
	}
	var paths [][]int
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			path := append(slices.Clone(prefix), i)
			switch {
			case f.Type == timeType || f.Type == timePtrType:
				paths = append(paths, path)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, path)
			}
		}
	}
	walk(t, nil)
	timeFieldPaths.Store(t, paths)
	return paths
}

var (
	_ bun.AfterScanRowHook = (*Organization)(nil)
	_ bun.AfterScanRowHook = (*User)(nil)
	_ bun.AfterScanRowHook = (*OrganizationMember)(nil)
	_ bun.AfterScanRowHook = (*APIKey)(nil)
	_ bun.AfterScanRowHook = (*APIKeyWithUser)(nil)
	_ bun.AfterScanRowHook = (*File)(nil)
	_ bun.AfterScanRowHook = (*ProvisionerDaemon)(nil)
	_ bun.AfterScanRowHook = (*ProvisionerJob)(nil)
	_ bun.AfterScanRowHook = (*ProvisionerJobLog)(nil)
	_ bun.AfterScanRowHook = (*Template)(nil)
	_ bun.AfterScanRowHook = (*TemplateVersion)(nil)
	_ bun.AfterScanRowHook = (*WorkspaceResource)(nil)
	_ bun.AfterScanRowHook = (*Workspace)(nil)
	_ bun.AfterScanRowHook = (*WorkspaceBuild)(nil)
)

// AfterScanRow implements bun.AfterScanRowHook.
func (m *Workspace) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *WorkspaceBuild) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *Organization) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *User) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *OrganizationMember) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *APIKey) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *APIKeyWithUser) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *File) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *ProvisionerDaemon) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *ProvisionerJob) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *ProvisionerJobLog) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *Template) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *TemplateVersion) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *WorkspaceResource) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook (the embedded models' own
// hooks do not run for a view).
func (m *BuildView) AfterScanRow(context.Context) error { toUTC(m); return nil }

// AfterScanRow implements bun.AfterScanRowHook.
func (m *VersionView) AfterScanRow(context.Context) error { toUTC(m); return nil }
