// Package logctx carries log attributes in a context: a request's ID, the
// job, workspace or template it works on. Handler adds them to every record
// logged with that context (slog's *Context methods), so code deep in a
// request or job logs them without passing them along.
package logctx

import (
	"context"
	"log/slog"
	"sync"
)

type fieldsKey struct{}

// fields are the attributes of one request or job. Middleware that learns
// more (the user, the workspace) adds to them in place, so the request's
// context is built once.
type fields struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// With returns a context carrying attrs, and any its parent carries.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	f := &fields{}
	if parent, ok := ctx.Value(fieldsKey{}).(*fields); ok {
		f.attrs = append(f.attrs, parent.snapshot()...)
	}
	f.attrs = append(f.attrs, attrs...)
	return context.WithValue(ctx, fieldsKey{}, f)
}

// Add adds attrs to those ctx carries (made by With); without any it does
// nothing.
func Add(ctx context.Context, attrs ...slog.Attr) {
	if f, ok := ctx.Value(fieldsKey{}).(*fields); ok {
		f.mu.Lock()
		f.attrs = append(f.attrs, attrs...)
		f.mu.Unlock()
	}
}

// Attrs returns the attributes ctx carries.
func Attrs(ctx context.Context) []slog.Attr {
	if f, ok := ctx.Value(fieldsKey{}).(*fields); ok {
		return f.snapshot()
	}
	return nil
}

func (f *fields) snapshot() []slog.Attr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slog.Attr(nil), f.attrs...)
}

// Handler wraps h to add the context's attributes to each record.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if f, ok := ctx.Value(fieldsKey{}).(*fields); ok {
		f.mu.Lock()
		r.AddAttrs(f.attrs...)
		f.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
