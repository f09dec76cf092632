package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/provisioner"
)

// DefaultCheckpointPoll is how often a running apply's state file is
// checked for changes.
const DefaultCheckpointPoll = 250 * time.Millisecond

// ResumesApply implements provisioner.Resumer: a resumed build plans again
// from the state its interrupted apply had persisted, and applies the
// difference.
func (*Provisioner) ResumesApply() string {
	return "Terraform plans again from that state and applies the difference"
}

// watchState reports the state file in dir as a checkpoint each time
// Terraform persists a new version of it (the local backend rewrites it
// after every resource it creates, changes or destroys), until ctx ends.
// A file caught half-written, or older than the last one reported, is
// skipped: the next poll sees the complete one.
func watchState(ctx context.Context, dir string, poll time.Duration, sink provisioner.Sink) {
	path := filepath.Join(dir, stateFile)
	var last []byte
	lastSerial := int64(-1)
	if b, err := os.ReadFile(path); err == nil {
		// What Plan wrote is the starting point, not progress.
		last = b
		lastSerial, _ = stateSerial(b)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.Equal(b, last) {
			continue
		}
		serial, ok := stateSerial(b)
		if !ok || serial < lastSerial {
			continue
		}
		last, lastSerial = b, serial
		provisioner.ReportCheckpoint(sink, provisioner.Checkpoint{State: b})
	}
}

// stateSerial decodes a state file's serial, reporting whether the file is
// a complete state.
func stateSerial(b []byte) (int64, bool) {
	var st struct {
		Version *int   `json:"version"`
		Serial  int64  `json:"serial"`
		Lineage string `json:"lineage"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Version == nil || st.Lineage == "" {
		return 0, false
	}
	return st.Serial, true
}
