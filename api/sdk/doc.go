// Package sdk holds berth's wire types for the Coder v2 REST API (/api/v2) and
// a typed Client for it.
//
// The types are written from the API reference pages in shared/seeds and the
// contract in shared/API-NOTES.md, field for field: snake_case JSON keys,
// lowercase enum values, UUIDs as uuid.UUID (uuid.NullUUID when nullable),
// timestamps as time.Time and durations as int64 milliseconds. The server
// encodes them and the Client decodes them, so both sides share one
// definition of the wire format.
//
// Wire rules the types cannot enforce on their own:
//   - Arrays are never null on the wire. Servers must hand non-nil slices to
//     the encoder (an empty slice encodes as []); fields marked omitempty are
//     the only exception.
//   - Timestamps are UTC with microsecond precision.
//
// The package is a leaf: it imports only the standard library, google/uuid and
// coder/websocket.
package sdk
