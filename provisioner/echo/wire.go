package echo

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/berth-dev/berth/provisioner"
)

// This file decodes the messages of Coder's provisioner protocol that echo
// archives hold, by field number, without Coder's generated code. Unknown
// fields are skipped; a known field with the wrong wire type is an error.

// field is one decoded field of a message.
type field struct {
	num protowire.Number
	typ protowire.Type
	val uint64 // varint and fixed-size values
	buf []byte // length-delimited values
}

// eachField calls fn for every field of the message b, in order.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.val, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.val = uint64(v)
		case protowire.Fixed64Type:
			f.val, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.buf, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f field) wrongType() error {
	return fmt.Errorf("field %d: unexpected wire type %d", f.num, f.typ)
}

func (f field) bytes(dst *[]byte) error {
	if f.typ != protowire.BytesType {
		return f.wrongType()
	}
	*dst = f.buf
	return nil
}

func (f field) string(dst *string) error {
	if f.typ != protowire.BytesType {
		return f.wrongType()
	}
	*dst = string(f.buf)
	return nil
}

func (f field) varint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	return f.val, nil
}

func (f field) bool(dst *bool) error {
	v, err := f.varint()
	*dst = v != 0
	return err
}

func (f field) int32(dst *int32) error {
	v, err := f.varint()
	*dst = int32(v) // int32 fields are sign-extended varints
	return err
}

// message decodes an embedded message with decode and appends the result
// to dst.
func message[T any](f field, dst *[]T, decode func([]byte) (T, error)) error {
	if f.typ != protowire.BytesType {
		return f.wrongType()
	}
	v, err := decode(f.buf)
	if err != nil {
		return fmt.Errorf("field %d: %w", f.num, err)
	}
	*dst = append(*dst, v)
	return nil
}

// decodeResponse returns which member of the Response oneof is set (0 for
// none) and its encoded message.
func decodeResponse(b []byte) (protowire.Number, []byte, error) {
	var (
		num  protowire.Number
		body []byte
	)
	err := eachField(b, func(f field) error {
		if f.num < respLog || f.num > respGraph {
			return nil
		}
		num = f.num // the last member of a oneof wins
		return f.bytes(&body)
	})
	return num, body, err
}

func decodeLog(b []byte) (provisioner.Log, error) {
	var (
		l     provisioner.Log
		level uint64
	)
	err := eachField(b, func(f field) (err error) {
		switch f.num {
		case 1:
			level, err = f.varint()
		case 2:
			err = f.string(&l.Output)
		}
		return err
	})
	l.Level = logLevel(level)
	return l, err
}

// logLevel spells the LogLevel enum. Unknown values read as info.
func logLevel(v uint64) string {
	switch v {
	case 0:
		return provisioner.LevelTrace
	case 1:
		return provisioner.LevelDebug
	case 3:
		return provisioner.LevelWarn
	case 4:
		return provisioner.LevelError
	}
	return provisioner.LevelInfo
}

// decodeErrorOnly decodes an InitComplete or PlanComplete: its error.
func decodeErrorOnly(b []byte) (string, error) {
	var msg string
	err := eachField(b, func(f field) error {
		if f.num == 1 {
			return f.string(&msg)
		}
		return nil
	})
	return msg, err
}

func decodeParse(b []byte) (*provisioner.ParseResult, string, error) {
	var (
		res    provisioner.ParseResult
		msg    string
		readme []byte
	)
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&msg)
		case 2:
			return message(f, &res.Variables, decodeVariable)
		case 3:
			return f.bytes(&readme)
		}
		return nil // 4, workspace_tags, is ignored
	})
	res.Readme = string(readme)
	return &res, msg, err
}

func decodeVariable(b []byte) (provisioner.Variable, error) {
	var v provisioner.Variable
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&v.Name)
		case 2:
			return f.string(&v.Description)
		case 3:
			return f.string(&v.Type)
		case 4:
			return f.string(&v.DefaultValue)
		case 5:
			return f.bool(&v.Required)
		case 6:
			return f.bool(&v.Sensitive)
		}
		return nil
	})
	return v, err
}

func decodeApply(b []byte) (state []byte, msg string, err error) {
	err = eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.bytes(&state)
		case 2:
			return f.string(&msg)
		}
		return nil
	})
	return state, msg, err
}

func decodeGraph(b []byte) (*provisioner.PlanResult, string, error) {
	var (
		res provisioner.PlanResult
		msg string
	)
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&msg)
		case 3:
			return message(f, &res.Resources, decodeResource)
		case 4:
			return message(f, &res.Parameters, decodeParameter)
		case 5:
			return message(f, &res.ExternalAuth, decodeExternalAuth)
		case 6:
			return message(f, &res.Presets, decodePreset)
		}
		return nil
	})
	return &res, msg, err
}

// decodePreset decodes a Preset: 1 name, 2 parameters {1 name, 2 value},
// 3 prebuild {1 instances}, 4 default, 5 description, 6 icon.
func decodePreset(b []byte) (provisioner.Preset, error) {
	var p provisioner.Preset
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&p.Name)
		case 2:
			return message(f, &p.Parameters, decodePresetParameter)
		case 3:
			var raw []byte
			if err := f.bytes(&raw); err != nil {
				return err
			}
			return eachField(raw, func(f field) error {
				if f.num != 1 {
					return nil
				}
				var v int32
				if err := f.int32(&v); err != nil {
					return err
				}
				p.PrebuildInstances = &v
				return nil
			})
		case 4:
			return f.bool(&p.Default)
		case 5:
			return f.string(&p.Description)
		case 6:
			return f.string(&p.Icon)
		}
		return nil
	})
	return p, err
}

func decodePresetParameter(b []byte) (provisioner.PresetParameter, error) {
	var p provisioner.PresetParameter
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&p.Name)
		case 2:
			return f.string(&p.Value)
		}
		return nil
	})
	return p, err
}

func decodeExternalAuth(b []byte) (provisioner.ExternalAuthProvider, error) {
	var p provisioner.ExternalAuthProvider
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&p.ID)
		case 2:
			return f.bool(&p.Optional)
		}
		return nil
	})
	return p, err
}

func decodeResource(b []byte) (provisioner.Resource, error) {
	var r provisioner.Resource
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&r.Name)
		case 2:
			return f.string(&r.Type)
		case 3:
			return message(f, &r.Agents, decodeAgent)
		case 4:
			return message(f, &r.Metadata, decodeMetadata)
		case 5:
			return f.bool(&r.Hide)
		case 6:
			return f.string(&r.Icon)
		case 7:
			return f.string(&r.InstanceType)
		case 8:
			return f.int32(&r.DailyCost)
		}
		return nil
	})
	return r, err
}

func decodeMetadata(b []byte) (provisioner.Metadata, error) {
	var m provisioner.Metadata
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&m.Key)
		case 2:
			return f.string(&m.Value)
		case 3:
			return f.bool(&m.Sensitive)
		case 4:
			return f.bool(&m.IsNull)
		}
		return nil
	})
	return m, err
}

func decodeAgent(b []byte) (provisioner.Agent, error) {
	var a provisioner.Agent
	var envs []keyValue
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&a.ID)
		case 2:
			return f.string(&a.Name)
		case 3, 22: // env (a map) and extra_envs (coder_env): both name/value pairs
			return message(f, &envs, decodeKeyValue)
		case 5:
			return f.string(&a.OperatingSystem)
		case 6:
			return f.string(&a.Architecture)
		case 7:
			return f.string(&a.Directory)
		case 8:
			return message(f, &a.Apps, decodeApp)
		case 9:
			return f.string(&a.Token)
		case 11:
			return f.int32(&a.ConnectionTimeoutSeconds)
		case 12:
			return f.string(&a.TroubleshootingURL)
		case 13:
			return f.string(&a.MOTDFile)
		case 20:
			if f.typ != protowire.BytesType {
				return f.wrongType()
			}
			apps, err := decodeDisplayApps(f.buf)
			a.DisplayApps = apps
			return err
		case 21:
			return message(f, &a.Scripts, decodeScript)
		}
		return nil
	})
	for _, kv := range envs {
		if a.Env == nil {
			a.Env = map[string]string{}
		}
		a.Env[kv.key] = kv.value
	}
	return a, err
}

// keyValue is a map entry (key 1, value 2) or an Env (name 1, value 2).
type keyValue struct{ key, value string }

func decodeKeyValue(b []byte) (keyValue, error) {
	var kv keyValue
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&kv.key)
		case 2:
			return f.string(&kv.value)
		}
		return nil
	})
	return kv, err
}

// decodeDisplayApps lists the enabled built-in apps, in Coder's names.
func decodeDisplayApps(b []byte) ([]string, error) {
	names := map[protowire.Number]string{1: "vscode", 2: "vscode_insiders", 3: "web_terminal", 4: "ssh_helper", 5: "port_forwarding_helper"}
	out := []string{}
	err := eachField(b, func(f field) error {
		name, ok := names[f.num]
		if !ok {
			return nil
		}
		var on bool
		if err := f.bool(&on); err != nil {
			return err
		}
		if on {
			out = append(out, name)
		}
		return nil
	})
	return out, err
}

func decodeApp(b []byte) (provisioner.App, error) {
	var a provisioner.App
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&a.Slug)
		case 2:
			return f.string(&a.DisplayName)
		case 3:
			return f.string(&a.Command)
		case 4:
			return f.string(&a.URL)
		case 5:
			return f.string(&a.Icon)
		case 6:
			return f.bool(&a.Subdomain)
		case 7:
			var hcs []provisioner.Healthcheck
			if err := message(f, &hcs, decodeHealthcheck); err != nil {
				return err
			}
			a.Healthcheck = &hcs[0]
		case 8:
			v, err := f.varint()
			a.SharingLevel = map[uint64]string{0: "owner", 1: "authenticated", 2: "public", 3: "organization"}[v]
			return err
		case 9:
			return f.bool(&a.External)
		case 10:
			return f.int32(&a.Order)
		case 11:
			return f.bool(&a.Hidden)
		case 12:
			v, err := f.varint()
			if v == 2 {
				a.OpenIn = "tab"
			}
			return err
		case 14:
			return f.string(&a.ID)
		}
		return nil
	})
	return a, err
}

func decodeHealthcheck(b []byte) (provisioner.Healthcheck, error) {
	var h provisioner.Healthcheck
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&h.URL)
		case 2:
			return f.int32(&h.Interval)
		case 3:
			return f.int32(&h.Threshold)
		}
		return nil
	})
	return h, err
}

func decodeScript(b []byte) (provisioner.Script, error) {
	var s provisioner.Script
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&s.DisplayName)
		case 2:
			return f.string(&s.Icon)
		case 3:
			return f.string(&s.Script)
		case 4:
			return f.string(&s.Cron)
		case 5:
			return f.bool(&s.StartBlocksLogin)
		case 6:
			return f.bool(&s.RunOnStart)
		case 7:
			return f.bool(&s.RunOnStop)
		case 8:
			return f.int32(&s.TimeoutSeconds)
		case 9:
			return f.string(&s.LogPath)
		}
		return nil
	})
	return s, err
}

// formType spells the ParameterFormType enum. Unknown values read as "".
func formType(v uint64) string {
	types := [...]string{
		"", "error", "radio", "dropdown", "input", "textarea", "slider",
		"checkbox", "switch", "tag-select", "multi-select",
	}
	if v < uint64(len(types)) {
		return types[v]
	}
	return ""
}

func decodeParameter(b []byte) (provisioner.RichParameter, error) {
	var p provisioner.RichParameter
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&p.Name)
		case 2:
			return f.string(&p.Description)
		case 3:
			return f.string(&p.Type)
		case 4:
			return f.bool(&p.Mutable)
		case 5:
			return f.string(&p.DefaultValue)
		case 6:
			return f.string(&p.Icon)
		case 7:
			return message(f, &p.Options, decodeOption)
		case 8:
			return f.string(&p.ValidationRegex)
		case 9:
			return f.string(&p.ValidationError)
		case 10:
			p.ValidationMin = new(int32)
			return f.int32(p.ValidationMin)
		case 11:
			p.ValidationMax = new(int32)
			return f.int32(p.ValidationMax)
		case 12:
			return f.string(&p.ValidationMonotonic)
		case 13:
			return f.bool(&p.Required)
		case 15:
			return f.string(&p.DisplayName)
		case 16:
			return f.int32(&p.Order)
		case 17:
			return f.bool(&p.Ephemeral)
		case 18:
			v, err := f.varint()
			p.FormType = formType(v)
			return err
		}
		return nil
	})
	return p, err
}

func decodeOption(b []byte) (provisioner.ParameterOption, error) {
	var o provisioner.ParameterOption
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string(&o.Name)
		case 2:
			return f.string(&o.Description)
		case 3:
			return f.string(&o.Value)
		case 4:
			return f.string(&o.Icon)
		}
		return nil
	})
	return o, err
}
