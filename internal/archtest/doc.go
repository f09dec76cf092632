// Package archtest holds no code: its test enforces the layout and import
// rules of STYLE.md §2 over `go list -deps -json`, so a layering mistake
// fails `go test ./...` instead of waiting for review.
package archtest
