package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/tracing"
	"github.com/berth-dev/berth/workflows"
)

// dbFlags are shared by every subcommand that talks to Postgres.
type dbFlags struct {
	PostgresURL string `help:"Postgres URL." env:"BERTH_POSTGRES_URL,DATABASE_URL" required:""`
	MaxConns    int    `help:"Maximum open Postgres connections." default:"10" env:"BERTH_MAX_CONNS"`
}

func (f dbFlags) open(ctx context.Context) (*bun.DB, error) {
	bdb, err := db.Open(db.Options{URL: f.PostgresURL, MaxConns: f.MaxConns})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bdb.PingContext(pctx); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return bdb, nil
}

// temporalFlags configure the Temporal client. The address and namespace
// come from the standard TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE.
type temporalFlags struct {
	QueuePrefix string `help:"Prefix of berth's Temporal task queues." default:"berth" env:"BERTH_QUEUE_PREFIX"`
	// The SDK gzips every request by default (and the server its replies):
	// on a LAN that costs more CPU than the bytes it saves, at both ends:
	// 15% of a worker's CPU and a share of Temporal's per job, for requests
	// of a few hundred bytes.
	GRPCCompression string `name:"temporal-grpc-compression" help:"Compression of gRPC calls to Temporal: none, or gzip for a Temporal across a slow network." enum:"none,gzip" default:"none" env:"BERTH_TEMPORAL_GRPC_COMPRESSION"`
}

func (f temporalFlags) dial(ctx context.Context, log *slog.Logger, o *observability) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("load temporal client options: %w", err)
	}
	opts.Logger = tlog.NewStructuredLogger(log.With("component", "temporal"))
	if f.GRPCCompression == "none" {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if o != nil {
		opts.MetricsHandler = o.temporal
		if o.tracer != nil {
			ti, err := tracing.TemporalInterceptor(o.tracer)
			if err != nil {
				return nil, err
			}
			opts.Interceptors = append(opts.Interceptors, ti)
		}
	}
	var c client.Client
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err = client.DialContext(ctx, opts)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		log.Info("waiting for temporal", "err", err)
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to temporal: %w", err)
	}
	return c, nil
}

// ensureSearchAttributes registers berth's search attributes; existing
// ones are fine.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	if namespace == "" {
		namespace = "default"
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := workflows.SearchAttributes()
	for name := range resp.GetCustomAttributes() {
		delete(missing, name)
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
