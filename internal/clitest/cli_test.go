package clitest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

// cli runs the coder CLI as one user against one deployment.
type cli struct {
	t     *testing.T
	bin   string
	url   string
	token string
	home  string
}

// newCLI returns the CLI signed in with token (CODER_URL and
// CODER_SESSION_TOKEN, as a user's shell would set them).
func newCLI(t *testing.T, d *berthtest.Deployment, token string) *cli {
	t.Helper()
	return &cli{t: t, bin: testinfra.CoderCLI(t), url: d.URL.String(), token: token, home: t.TempDir()}
}

// run runs one command with stdin and returns stdout, stderr and the
// error of a failed exit.
func (c *cli) run(ctx context.Context, stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(),
		"HOME="+c.home, "CODER_CONFIG_DIR="+filepath.Join(c.home, "config"),
		"CODER_URL="+c.url, "CODER_SESSION_TOKEN="+c.token,
		"NO_COLOR=1", "CODER_TELEMETRY_ENABLE=false",
	)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	c.t.Logf("$ coder %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(ctx context.Context, args ...string) string {
	c.t.Helper()
	return c.okIn(ctx, "", args...)
}

// yes runs a command that asks for confirmation, answering yes.
func (c *cli) yes(ctx context.Context, args ...string) string {
	c.t.Helper()
	return c.okIn(ctx, "yes\n", args...)
}

// okIn runs a command with stdin; it must succeed.
func (c *cli) okIn(ctx context.Context, stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(ctx, stdin, args...)
	require.NoError(c.t, err, "coder %s: %s", strings.Join(args, " "), errOut)
	return out
}

// fails runs a command that must fail and returns its combined output.
func (c *cli) fails(ctx context.Context, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(ctx, "yes\n", args...)
	require.Error(c.t, err, "coder %s succeeded: %s", strings.Join(args, " "), out)
	return out + errOut
}
