package db

import (
	"context"
	"reflect"
	"time"

	"github.com/uptrace/bun"
)

// Postgres returns timestamptz values in the session's time zone. Every
// model converts its times to UTC after a scan, so the API always answers
// in UTC whatever the connection's zone.

var timeType = reflect.TypeFor[time.Time]()

// toUTC converts the time.Time and *time.Time fields of the struct v points
// to (including embedded and nested structs) to UTC.
func toUTC(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return
	}
	utcValue(rv.Elem())
}

func utcValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		if v.CanSet() {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
		}
	case v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Type() == timeType:
		utcValue(v.Elem())
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				utcValue(v.Field(i))
			}
		}
	}
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
