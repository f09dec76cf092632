package db

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/uptrace/bun/driver/pgdriver"
)

// Transient reports whether err says the database was out of reach rather
// than that the statement failed: a refused or lost connection, or a server
// shutting down or starting up (a restart, a failover). The same work may
// succeed once the server is back. Errors of the statement itself
// (constraints, syntax, serialization) are not transient.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		code := pgErr.Field('C')
		// Class 08: connection exception. 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now.
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
