package echo_test

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/berth-dev/berth/provisioner"
)

// This file encodes Coder's provisioner Response messages the way
// protobuf-go does (proto3: zero scalars omitted), to test the decoder.

func pbString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbBool(b []byte, num protowire.Number, v bool) []byte {
	return pbVarint(b, num, protowire.EncodeBool(v))
}

func pbInt32(b []byte, num protowire.Number, v int32) []byte {
	return pbVarint(b, num, uint64(int64(v)))
}

// pbOptInt32 encodes a proto3 optional int32: present even when zero.
func pbOptInt32(b []byte, num protowire.Number, v *int32) []byte {
	if v == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(*v)))
}

func pbMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// Responses.

func logResp(level, output string) []byte {
	levels := []string{"trace", "debug", "info", "warn", "error"}
	var m []byte
	m = pbVarint(m, 1, uint64(slices.Index(levels, level)))
	m = pbString(m, 2, output)
	return pbMessage(nil, 1, m)
}

func parseResp(errMsg, readme string, vars ...provisioner.Variable) []byte {
	var m []byte
	m = pbString(m, 1, errMsg)
	for _, v := range vars {
		var vm []byte
		vm = pbString(vm, 1, v.Name)
		vm = pbString(vm, 2, v.Description)
		vm = pbString(vm, 3, v.Type)
		vm = pbString(vm, 4, v.DefaultValue)
		vm = pbBool(vm, 5, v.Required)
		vm = pbBool(vm, 6, v.Sensitive)
		m = pbMessage(m, 2, vm)
	}
	m = pbBytes(m, 3, []byte(readme))
	// workspace_tags, a map<string,string>: one entry, ignored.
	m = pbMessage(m, 4, pbString(pbString(nil, 1, "k"), 2, "v"))
	return pbMessage(nil, 2, m)
}

func initResp(errMsg string) []byte { return pbMessage(nil, 3, pbString(nil, 1, errMsg)) }

func planResp(errMsg string) []byte { return pbMessage(nil, 4, pbString(nil, 1, errMsg)) }

func applyResp(state, errMsg string) []byte {
	var m []byte
	m = pbBytes(m, 1, []byte(state))
	m = pbString(m, 2, errMsg)
	return pbMessage(nil, 5, m)
}

func graphResp(errMsg string, res *provisioner.PlanResult) []byte {
	var m []byte
	m = pbString(m, 1, errMsg)
	for _, r := range res.Resources {
		m = pbMessage(m, 3, encodeResource(r))
	}
	for _, p := range res.Parameters {
		m = pbMessage(m, 4, encodeParameter(p))
	}
	for _, a := range res.ExternalAuth {
		m = pbMessage(m, 5, pbBool(pbString(nil, 1, a.ID), 2, a.Optional))
	}
	for _, p := range res.Presets {
		m = pbMessage(m, 6, encodePreset(p))
	}
	return pbMessage(nil, 6, m)
}

// encodePreset writes a Preset: 1 name, 2 parameters {1 name, 2 value},
// 3 prebuild {1 instances}, 4 default, 5 description, 6 icon.
func encodePreset(p provisioner.Preset) []byte {
	m := pbString(nil, 1, p.Name)
	for _, pp := range p.Parameters {
		m = pbMessage(m, 2, pbString(pbString(nil, 1, pp.Name), 2, pp.Value))
	}
	if p.PrebuildInstances != nil {
		m = pbMessage(m, 3, pbInt32(nil, 1, *p.PrebuildInstances))
	}
	m = pbBool(m, 4, p.Default)
	m = pbString(m, 5, p.Description)
	return pbString(m, 6, p.Icon)
}

func encodeResource(r provisioner.Resource) []byte {
	var m []byte
	m = pbString(m, 1, r.Name)
	m = pbString(m, 2, r.Type)
	for _, a := range r.Agents {
		m = pbMessage(m, 3, encodeAgent(a))
	}
	for _, md := range r.Metadata {
		var mm []byte
		mm = pbString(mm, 1, md.Key)
		mm = pbString(mm, 2, md.Value)
		mm = pbBool(mm, 3, md.Sensitive)
		mm = pbBool(mm, 4, md.IsNull)
		m = pbMessage(m, 4, mm)
	}
	m = pbBool(m, 5, r.Hide)
	m = pbString(m, 6, r.Icon)
	m = pbString(m, 7, r.InstanceType)
	m = pbInt32(m, 8, r.DailyCost)
	return m
}

func encodeAgent(a provisioner.Agent) []byte {
	var am []byte
	am = pbString(am, 1, a.ID)
	am = pbString(am, 2, a.Name)
	for k, v := range a.Env { // env is a map: entries of key 1, value 2
		am = pbMessage(am, 3, pbString(pbString(nil, 1, k), 2, v))
	}
	am = pbString(am, 5, a.OperatingSystem)
	am = pbString(am, 6, a.Architecture)
	am = pbString(am, 7, a.Directory)
	for _, app := range a.Apps {
		var pm []byte
		pm = pbString(pm, 1, app.Slug)
		pm = pbString(pm, 2, app.DisplayName)
		pm = pbString(pm, 3, app.Command)
		pm = pbString(pm, 4, app.URL)
		pm = pbString(pm, 5, app.Icon)
		pm = pbBool(pm, 6, app.Subdomain)
		if hc := app.Healthcheck; hc != nil {
			pm = pbMessage(pm, 7, pbInt32(pbInt32(pbString(nil, 1, hc.URL), 2, hc.Interval), 3, hc.Threshold))
		}
		pm = pbInt32(pm, 8, map[string]int32{"authenticated": 1, "public": 2, "organization": 3}[app.SharingLevel])
		pm = pbBool(pm, 9, app.External)
		pm = pbInt32(pm, 10, app.Order)
		pm = pbBool(pm, 11, app.Hidden)
		pm = pbInt32(pm, 12, map[string]int32{"slim-window": 1, "tab": 2}[app.OpenIn])
		pm = pbString(pm, 14, app.ID)
		am = pbMessage(am, 8, pm)
	}
	am = pbString(am, 9, a.Token)
	am = pbInt32(am, 11, a.ConnectionTimeoutSeconds)
	am = pbString(am, 12, a.TroubleshootingURL)
	am = pbString(am, 13, a.MOTDFile)
	if a.DisplayApps != nil {
		var dm []byte
		for i, name := range []string{"vscode", "vscode_insiders", "web_terminal", "ssh_helper", "port_forwarding_helper"} {
			dm = pbBool(dm, protowire.Number(i+1), slices.Contains(a.DisplayApps, name))
		}
		am = pbMessage(am, 20, dm)
	}
	for _, sc := range a.Scripts {
		var sm []byte
		sm = pbString(sm, 1, sc.DisplayName)
		sm = pbString(sm, 2, sc.Icon)
		sm = pbString(sm, 3, sc.Script)
		sm = pbString(sm, 4, sc.Cron)
		sm = pbBool(sm, 5, sc.StartBlocksLogin)
		sm = pbBool(sm, 6, sc.RunOnStart)
		sm = pbBool(sm, 7, sc.RunOnStop)
		sm = pbInt32(sm, 8, sc.TimeoutSeconds)
		sm = pbString(sm, 9, sc.LogPath)
		am = pbMessage(am, 21, sm)
	}
	return am
}

func encodeParameter(p provisioner.RichParameter) []byte {
	formTypes := []string{"", "error", "radio", "dropdown", "input", "textarea", "slider",
		"checkbox", "switch", "tag-select", "multi-select"}
	var m []byte
	m = pbString(m, 1, p.Name)
	m = pbString(m, 2, p.Description)
	m = pbString(m, 3, p.Type)
	m = pbBool(m, 4, p.Mutable)
	m = pbString(m, 5, p.DefaultValue)
	m = pbString(m, 6, p.Icon)
	for _, o := range p.Options {
		var om []byte
		om = pbString(om, 1, o.Name)
		om = pbString(om, 2, o.Description)
		om = pbString(om, 3, o.Value)
		om = pbString(om, 4, o.Icon)
		m = pbMessage(m, 7, om)
	}
	m = pbString(m, 8, p.ValidationRegex)
	m = pbString(m, 9, p.ValidationError)
	m = pbOptInt32(m, 10, p.ValidationMin)
	m = pbOptInt32(m, 11, p.ValidationMax)
	m = pbString(m, 12, p.ValidationMonotonic)
	m = pbBool(m, 13, p.Required)
	m = pbString(m, 14, "ignored") // a field this product does not read
	m = pbString(m, 15, p.DisplayName)
	m = pbInt32(m, 16, p.Order)
	m = pbBool(m, 17, p.Ephemeral)
	m = pbVarint(m, 18, uint64(slices.Index(formTypes, p.FormType)))
	return m
}
