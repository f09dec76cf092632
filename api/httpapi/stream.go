package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Server timeouts: a request's headers and body must arrive within
// ReadTimeout, its answer must be written within WriteTimeout (measured
// from the end of the headers, so it bounds the handler too), and an idle
// keep-alive connection is closed after IdleTimeout. Long-lived streams lift
// the read and write deadlines of their own connection (LongLived).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
)

// NewServer returns the HTTP server for handler with berth's timeouts.
func NewServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
	}
}

// LongLived exempts a streaming response (an SSE watch, a websocket log
// follow) from the server's read and write deadlines: it lives until the
// client leaves or the server stops, and pings keep dead peers from holding
// it. Call it before the first byte of the stream.
func LongLived(c *gin.Context) error {
	rc := http.NewResponseController(c.Writer)
	for _, set := range []func(time.Time) error{rc.SetWriteDeadline, rc.SetReadDeadline} {
		if err := set(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// ExtendRead gives a request's body until d from now to arrive (uploads
// of up to the file size cap), instead of the server's ReadTimeout, and its
// answer as long (the write deadline runs from the request's start).
func ExtendRead(c *gin.Context, d time.Duration) {
	rc := http.NewResponseController(c.Writer)
	deadline := time.Now().Add(d)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
}
