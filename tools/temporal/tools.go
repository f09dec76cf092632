//go:build tools

// Package tools pins the Temporal CLI used by `make dev` and `make test`.
package tools

import _ "github.com/temporalio/cli/cmd/temporal"
