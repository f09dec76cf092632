package api

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
)

// watchPingInterval keeps idle event streams alive.
const watchPingInterval = 15 * time.Second

// watchWorkspace streams the workspace as server-sent events: the current
// workspace at once, then again on every change to it or its builds (from
// any API server, through Postgres notifications), with pings in between,
// until the client goes away or the server stops. The watchers of one
// workspace share one read per change (watchHub); each counts against the
// stream caps.
func (a *API) watchWorkspace(c *gin.Context) error {
	ws, err := a.workspaceParam(c, true)
	if err != nil {
		return err
	}
	caller := httpmw.ActorFrom(c).User
	release, err := a.streams.acquire(caller.ID)
	if err != nil {
		return err
	}
	defer release()
	feed, leave := a.watches.join(ws.ID)
	defer leave()
	ctx := c.Request.Context()
	flusher, ok := c.Writer.(http.Flusher)
	if !ok {
		return fmt.Errorf("response writer cannot flush")
	}
	if err := httpapi.LongLived(c); err != nil {
		return err
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	c.Writer.WriteHeader(http.StatusOK)

	send := func(event string, data []byte) error {
		var err error
		if data == nil {
			_, err = fmt.Fprintf(c.Writer, "event: %s\n\n", event)
		} else {
			_, err = fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", event, data)
		}
		if err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	if err := send("ping", nil); err != nil {
		return nil
	}
	var last []byte
	snap, changed := feed.current()
	ping := time.NewTicker(watchPingInterval)
	defer ping.Stop()
	for {
		if snap != nil {
			if b := snap.forUser(caller.ID); !bytes.Equal(b, last) {
				last = b
				if err := send("data", b); err != nil {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.opts.ShutdownCtx.Done():
			return nil
		case <-ping.C:
			if err := send("ping", nil); err != nil {
				return nil
			}
		case <-changed:
			snap, changed = feed.current()
		}
	}
}
