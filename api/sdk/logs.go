package sdk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// logsReadLimit bounds one websocket frame; a log line is far smaller.
const logsReadLimit = 4 << 20

// logsAfter fetches the log lines of a job with id > after, without following.
func logsAfter(ctx context.Context, c *Client, path string, after int64) ([]ProvisionerJobLog, error) {
	return get[[]ProvisionerJobLog](ctx, c, path, WithQueryParam("after", strconv.FormatInt(after, 10)))
}

// followLogs opens the websocket at path?follow&after=N and streams one
// ProvisionerJobLog per text frame. The channel is closed when the server
// closes the socket, a frame cannot be decoded, ctx ends or the Closer is
// called. The session token is sent as the coder_session_token cookie.
func followLogs(ctx context.Context, c *Client, path string, after int64) (<-chan ProvisionerJobLog, io.Closer, error) {
	u, err := c.url(path)
	if err != nil {
		return nil, nil, err
	}
	u.RawQuery = "follow&after=" + strconv.FormatInt(after, 10)

	header := http.Header{}
	if token := c.SessionToken(); token != "" {
		header.Set("Cookie", (&http.Cookie{Name: SessionTokenCookie, Value: token}).String())
	}
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:      c.httpClient(),
		HTTPHeader:      header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			if res.Body == nil {
				res.Body = http.NoBody
			}
			if res.Request == nil {
				res.Request = &http.Request{Method: http.MethodGet, URL: u}
			}
			apiErr := ReadBodyAsError(res)
			_ = res.Body.Close()
			return nil, nil, apiErr
		}
		return nil, nil, fmt.Errorf("dial %s: %w", u.Path, err)
	}
	conn.SetReadLimit(logsReadLimit)

	ctx, cancel := context.WithCancel(ctx)
	logs := make(chan ProvisionerJobLog)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(logs)
		defer cancel()
		defer func() { _ = conn.CloseNow() }()
		for {
			var log ProvisionerJobLog
			if err := wsjson.Read(ctx, conn, &log); err != nil {
				return
			}
			select {
			case logs <- log:
			case <-ctx.Done():
				return
			}
		}
	}()
	return logs, &logStream{cancel: cancel, done: done}, nil
}

// logStream is the io.Closer of a followed log stream.
type logStream struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the stream at once (without a close handshake) and waits until
// the reader has stopped and the log channel is closed. It is safe to call
// more than once.
func (s *logStream) Close() error {
	s.cancel()
	<-s.done
	return nil
}
