package pubsub

import (
	"errors"
	"net"
)

var errSilent = errors.New("listener heard nothing, not even its own pings")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
