package api

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/httpapi"
)

func TestStreamLimiter(t *testing.T) {
	t.Parallel()
	l := newStreamLimiter(2, 3)
	alice, bob := uuid.New(), uuid.New()
	refused := func(err error, msg string) {
		t.Helper()
		var he *httpapi.Error
		require.ErrorAs(t, err, &he)
		require.Equal(t, http.StatusTooManyRequests, he.Status)
		require.Equal(t, msg, he.Response.Message)
	}
	a1, err := l.acquire(alice)
	require.NoError(t, err)
	_, err = l.acquire(alice)
	require.NoError(t, err)
	_, err = l.acquire(alice)
	refused(err, "You have too many open streams.")
	_, err = l.acquire(bob)
	require.NoError(t, err)
	_, err = l.acquire(bob)
	refused(err, "The server has too many open streams.")
	a1()
	a1() // idempotent
	_, err = l.acquire(bob)
	require.NoError(t, err)
	_, err = l.acquire(alice)
	refused(err, "The server has too many open streams.")
}
