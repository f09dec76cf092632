// Package clitest runs the unmodified coder CLI (v2.30, built by `make
// tools` into bin/coder from tools/coder) against an in-process berth, one
// deployment per test, and checks what each command prints and changes.
// The CLI is only executed: its AGPL code never enters berth's module.
package clitest
