// Command temporal-server runs a Temporal server persisted in PostgreSQL —
// frontend, history, matching and worker services in one process — with
// the Temporal Web UI, for berth's `make dev`, its durability tests and
// `make bench`. It is built from go.temporal.io/server and
// github.com/temporalio/ui-server, pinned in this module's go.mod, and is
// not part of berth's own module.
//
//	temporal-server schema  [flags]   create the databases and set up or upgrade their schemas
//	temporal-server start   [flags]   run the server (with --setup-schema: run `schema` first)
//	temporal-server drop    [flags]   drop the databases (tests)
//
// Every flag has an environment variable (see -h). A production cluster
// runs Temporal's own images or binaries with its own configuration; this
// command is one way to get the same server on one machine, by flags alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/server/common/auth"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
	"gopkg.in/yaml.v3"

	// The PostgreSQL persistence plugin.
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "temporal-server:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: temporal-server schema|start|drop [flags]
  schema  create the persistence and visibility databases if missing, then set up or upgrade their schemas
  start   run the server and its Web UI (--setup-schema runs schema first)
  drop    drop both databases
Run 'temporal-server start -h' for the flags.
`)
}

func run(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage()
		return errors.New("a command is required")
	}
	cmd, args := args[0], args[1:]
	o := defaultOptions()
	fs := o.flags(cmd)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := o.parse(); err != nil {
		return err
	}
	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Level: o.logLevel, Format: "console"}))
	switch cmd {
	case "schema":
		return setupSchemas(o, logger)
	case "drop":
		return dropDatabases(o, logger)
	case "start":
		if o.setupSchema {
			if err := setupSchemas(o, logger); err != nil {
				return err
			}
		}
		return serve(o, logger)
	default:
		usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// options are the command's flags.
type options struct {
	postgresURL      string
	database         string
	visibilityDB     string
	shards           int
	ip               string
	port             int
	uiPort           int
	metricsPort      int
	pprofPort        int
	maxConns         int
	visibilityConns  int
	logLevel         string
	retention        time.Duration
	setupSchema      bool
	pruneVisibility  bool
	namespaces       stringList
	searchAttributes stringList
	dynamicConfig    stringList

	pg      config.SQL // parsed from postgresURL
	dynamic dynamicconfig.StaticClient
	attrs   map[string]enums.IndexedValueType
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func defaultOptions() *options {
	return &options{
		postgresURL:     env("TEMPORAL_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		database:        env("TEMPORAL_DATABASE", "temporal"),
		visibilityDB:    env("TEMPORAL_VISIBILITY_DATABASE", "temporal_visibility"),
		shards:          envInt("TEMPORAL_HISTORY_SHARDS", 4),
		ip:              env("TEMPORAL_IP", "127.0.0.1"),
		port:            envInt("TEMPORAL_PORT", 7233),
		uiPort:          envInt("TEMPORAL_UI_PORT", 8233),
		metricsPort:     envInt("TEMPORAL_METRICS_PORT", 0),
		maxConns:        envInt("TEMPORAL_MAX_CONNS", 10),
		visibilityConns: envInt("TEMPORAL_VISIBILITY_MAX_CONNS", 4),
		logLevel:        env("TEMPORAL_LOG_LEVEL", "warn"),
		retention:       24 * time.Hour,
		pruneVisibility: envBool("TEMPORAL_PRUNE_VISIBILITY_INDEXES", true),
	}
}

func (o *options) flags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet("temporal-server "+cmd, flag.ContinueOnError)
	fs.StringVar(&o.postgresURL, "postgres-url", o.postgresURL, "PostgreSQL server URL; its path is ignored ($TEMPORAL_POSTGRES_URL)")
	fs.StringVar(&o.database, "database", o.database, "persistence database ($TEMPORAL_DATABASE)")
	fs.StringVar(&o.visibilityDB, "visibility-database", o.visibilityDB, "visibility database ($TEMPORAL_VISIBILITY_DATABASE)")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "debug, info, warn or error ($TEMPORAL_LOG_LEVEL)")
	if cmd != "start" {
		return fs
	}
	fs.IntVar(&o.shards, "history-shards", o.shards, "history shards; fixed when the cluster is first started ($TEMPORAL_HISTORY_SHARDS)")
	fs.StringVar(&o.ip, "ip", o.ip, "address to listen on ($TEMPORAL_IP)")
	fs.IntVar(&o.port, "port", o.port, "frontend gRPC port ($TEMPORAL_PORT)")
	fs.IntVar(&o.uiPort, "ui-port", o.uiPort, "Web UI port, 0 for none ($TEMPORAL_UI_PORT)")
	fs.IntVar(&o.metricsPort, "metrics-port", o.metricsPort, "Prometheus metrics port, 0 for none ($TEMPORAL_METRICS_PORT)")
	fs.IntVar(&o.pprofPort, "pprof-port", 0, "Go pprof port on localhost, 0 for none")
	fs.IntVar(&o.maxConns, "max-conns", o.maxConns, "PostgreSQL connections per service for persistence ($TEMPORAL_MAX_CONNS)")
	fs.IntVar(&o.visibilityConns, "visibility-max-conns", o.visibilityConns, "PostgreSQL connections per service for visibility ($TEMPORAL_VISIBILITY_MAX_CONNS)")
	fs.DurationVar(&o.retention, "retention", o.retention, "retention of closed workflows in namespaces this command creates")
	fs.BoolVar(&o.setupSchema, "setup-schema", false, "create the databases and set up or upgrade the schemas first")
	fs.BoolVar(&o.pruneVisibility, "prune-visibility-indexes", o.pruneVisibility, "drop the visibility indexes of unused search attribute slots and of Temporal features berth does not use; false restores them ($TEMPORAL_PRUNE_VISIBILITY_INDEXES)")
	fs.Var(&o.namespaces, "namespace", "namespace to create if missing (repeatable; default: default)")
	fs.Var(&o.searchAttributes, "search-attribute", "Name=Type custom search attribute to register in every namespace (repeatable)")
	fs.Var(&o.dynamicConfig, "dynamic-config-value", "key=value dynamic config, value in YAML (repeatable)")
	return fs
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func (o *options) parse() error {
	u, err := url.Parse(o.postgresURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--postgres-url %q: want postgres://user[:password]@host:port/", o.postgresURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	o.pg = config.SQL{
		PluginName:      "postgres12_pgx",
		ConnectAddr:     host,
		ConnectProtocol: "tcp",
		User:            u.User.Username(),
		MaxConnLifetime: time.Hour,
	}
	o.pg.Password, _ = u.User.Password()
	q := u.Query()
	switch mode := q.Get("sslmode"); mode {
	case "", "disable":
	case "require", "verify-full":
		o.pg.TLS = &auth.TLS{Enabled: true, EnableHostVerification: mode == "verify-full"}
	default:
		return fmt.Errorf("--postgres-url: sslmode %q is not supported (disable, require, verify-full)", mode)
	}
	q.Del("sslmode")
	for k := range q {
		if o.pg.ConnectAttributes == nil {
			o.pg.ConnectAttributes = map[string]string{}
		}
		o.pg.ConnectAttributes[k] = q.Get(k)
	}
	if len(o.namespaces) == 0 {
		o.namespaces = stringList{"default"}
	}
	o.attrs = map[string]enums.IndexedValueType{}
	for _, sa := range o.searchAttributes {
		name, typ, ok := strings.Cut(sa, "=")
		v, known := enums.IndexedValueType_shorthandValue[typ]
		if !ok || !known {
			return fmt.Errorf("--search-attribute %q: want Name=Type (Keyword, KeywordList, Text, Int, Double, Bool, Datetime)", sa)
		}
		o.attrs[name] = enums.IndexedValueType(v)
	}
	o.dynamic = dynamicconfig.StaticClient{}
	for _, kv := range o.dynamicConfig {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--dynamic-config-value %q: want key=value", kv)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fmt.Errorf("--dynamic-config-value %q: %w", kv, err)
		}
		o.dynamic[dynamicconfig.Key(k)] = val
	}
	if o.shards < 1 {
		return errors.New("--history-shards must be at least 1")
	}
	return nil
}

// store returns the SQL config of one database with a connection cap.
func (o *options) store(name string, conns int) *config.SQL {
	c := o.pg
	c.DatabaseName = name
	c.MaxConns = conns
	c.MaxIdleConns = conns
	return &c
}

// serve runs the server until SIGINT or SIGTERM.
func serve(o *options, logger log.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
	// Fail at once, not after a minute of retries, when the port is taken
	// (say, by a server left over from an earlier run).
	for _, p := range []int{o.port, o.uiPort} {
		if p == 0 {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(o.ip, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("port %d is not free: %w", p, err)
		}
		ln.Close()
	}
	conf, err := o.serverConfig()
	if err != nil {
		return err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, svc := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(conf.Services[string(svc)].RPC.GRPCPort)))
	}
	dc, settle := o.dynamicConfigClient()
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return fmt.Errorf("create server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer srv.Stop()
	if err := o.register(ctx, addr); err != nil {
		return err
	}
	if err := tuneVisibilityIndexes(ctx, o, logger); err != nil {
		return fmt.Errorf("visibility indexes: %w", err)
	}
	settled := time.AfterFunc(settleAfterRegister, settle)
	defer settled.Stop()
	var ui *uiserver.Server
	if o.uiPort != 0 {
		ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                o.ip,
			Port:                o.uiPort,
			TemporalGRPCAddress: addr,
			EnableUI:            true,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
		}))
		go func() {
			if err := ui.Start(); err != nil {
				logger.Error("web ui stopped", tag.Error(err))
			}
		}()
		defer ui.Stop()
	}
	uiURL := "off"
	if o.uiPort != 0 {
		uiURL = fmt.Sprintf("http://%s", net.JoinHostPort(o.ip, strconv.Itoa(o.uiPort)))
	}
	fmt.Printf("temporal-server: ready on %s (web ui %s, %d history shards, postgres %s/%s)\n",
		addr, uiURL, o.shards, o.pg.ConnectAddr, o.database)
	<-ctx.Done()
	return nil
}

// register creates the namespaces and search attributes that are missing.
func (o *options) register(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := sdkclient.DialContext(ctx, sdkclient.Options{HostPort: addr, Logger: quietLogger{}})
	if err != nil {
		return fmt.Errorf("connect to the frontend: %w", err)
	}
	defer c.Close()
	for _, ns := range o.namespaces {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			WorkflowExecutionRetentionPeriod: durationpb.New(o.retention),
		})
		if _, exists := errors.AsType[*serviceerror.NamespaceAlreadyExists](err); err != nil && !exists {
			return fmt.Errorf("register namespace %s: %w", ns, err)
		}
		if len(o.attrs) == 0 {
			continue
		}
		// A new namespace becomes visible to the operator service once the
		// namespace cache has it.
		for {
			resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
			if err == nil {
				missing := map[string]enums.IndexedValueType{}
				for name, typ := range o.attrs {
					if got, ok := resp.GetCustomAttributes()[name]; !ok {
						missing[name] = typ
					} else if got != typ {
						return fmt.Errorf("search attribute %s of namespace %s is %s, not %s", name, ns, got, typ)
					}
				}
				if len(missing) == 0 {
					break
				}
				_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
					Namespace: ns, SearchAttributes: missing,
				})
				if _, exists := errors.AsType[*serviceerror.AlreadyExists](err); err == nil || exists {
					continue
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("register search attributes in %s: %w", ns, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// settleAfterRegister is how long after registering namespaces and search
// attributes the services keep refreshing their namespace caches every
// second (instead of every ten), so that they all know what was registered.
const settleAfterRegister = 15 * time.Second

// dynamicConfigClient returns the server's dynamic config: the flags'
// values over berth's defaults; settle ends the start-up settings.
//
// Unlike the CLI's dev server, it does not force the search attribute
// cache to be read from the database on every request: with SQL
// visibility a custom search attribute is an alias in its namespace, and
// the cache only holds the visibility columns, fixed by the schema. The
// forced refresh read the cluster metadata six times per job.
func (o *options) dynamicConfigClient() (dc *dynamicconfig.MemoryClient, settle func()) {
	dc = dynamicconfig.NewMemoryClient()
	// New namespaces and search attributes reach every service within a
	// second instead of ten.
	fastNamespaces := dc.OverrideValue(dynamicconfig.NamespaceCacheRefreshInterval.Key(), time.Second)
	dc.OverrideValue(dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(), 100)
	// berth uses no Nexus; without an HTTP port it would only warn.
	dc.OverrideValue(dynamicconfig.EnableNexus.Key(), false)
	for k, v := range o.dynamic {
		dc.OverrideValue(k, v)
	}
	return dc, fastNamespaces
}

func (o *options) serverConfig() (*config.Config, error) {
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = "127.0.0.1"
	if o.metricsPort != 0 {
		conf.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{
			ListenAddress: net.JoinHostPort(o.ip, strconv.Itoa(o.metricsPort)),
			HandlerPath:   "/metrics",
		}}
	}
	conf.Global.PProf.Port = o.pprofPort
	conf.Persistence.NumHistoryShards = int32(o.shards)
	conf.Persistence.DefaultStore = "default"
	conf.Persistence.VisibilityStore = "visibility"
	conf.Persistence.DataStores = map[string]config.DataStore{
		"default":    {SQL: o.store(o.database, o.maxConns)},
		"visibility": {SQL: o.store(o.visibilityDB, o.visibilityConns)},
	}
	addr := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: addr},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, svc := range []string{"frontend", "history", "matching", "worker"} {
		var s config.Service
		s.RPC.BindOnIP = o.ip
		if svc == "frontend" {
			s.RPC.GRPCPort = o.port
		} else {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			s.RPC.GRPCPort = p
			s.RPC.BindOnIP = "127.0.0.1"
		}
		conf.Services[svc] = s
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = addr
	return conf, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
