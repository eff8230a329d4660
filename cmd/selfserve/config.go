package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/selfserve/selfserve/services/commerce"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/ratelimit"
	"github.com/selfserve/selfserve/services/kit/telemetry"
)

// config is every setting of every command; each command declares the flags
// that apply to it.
type config struct {
	DataDir       string
	SigningKey    string
	HTTPAddr      string
	LicensingAddr string
	CommerceAddr  string
	BillingAddr   string
	Clock         string
	Seed          bool
	LogLevel      string
	LogFormat     string
	MetricsAddr   string
	Grace         time.Duration
	CJKFont       string
	// store
	Store           string
	EtcdEndpoints   string
	EtcdDialTimeout time.Duration
	// rate limits
	OrgRate, CallerRate   float64
	OrgBurst, CallerBurst int
	// WebhooksAllowPrivate lets webhooks reach loopback and private
	// addresses over http (commerce).
	WebhooksAllowPrivate bool
	// AuditRetentionMonths is how long commerce keeps audit events.
	AuditRetentionMonths int
	// token
	Operator bool
	TTL      time.Duration
}

type flagSet struct {
	*flag.FlagSet
	cfg *config
}

func newFlags(name string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet("selfserve "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, cfg: &config{}}
}

func (f *flagSet) dataDir() {
	f.StringVar(&f.cfg.DataDir, "data-dir", "data", "directory of the bbolt stores and the signing key")
	f.StringVar(&f.cfg.SigningKey, "signing-key", "", "path of the token signing key (default DATA_DIR/signing.key)")
}

// store declares where a service keeps its data.
func (f *flagSet) store() {
	f.StringVar(&f.cfg.Store, "store", "bbolt", "where the store is: bbolt (a file in DATA_DIR) or etcd (a key prefix of the --etcd-endpoints cluster)")
	f.StringVar(&f.cfg.EtcdEndpoints, "etcd-endpoints", "", "comma-separated host:port of the etcd cluster's members (with --store etcd)")
	f.DurationVar(&f.cfg.EtcdDialTimeout, "etcd-dial-timeout", kv.DefaultDialTimeout, "how long to wait for the etcd cluster to answer at start")
}

func (f *flagSet) addrs(http, licensing, commerce, billing bool) {
	if http {
		f.StringVar(&f.cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the JSON gateway")
	}
	if licensing {
		f.StringVar(&f.cfg.LicensingAddr, "licensing-addr", "127.0.0.1:9101", "address of the licensing gRPC service")
	}
	if commerce {
		f.StringVar(&f.cfg.CommerceAddr, "commerce-addr", "127.0.0.1:9102", "address of the commerce gRPC service")
	}
	if billing {
		f.StringVar(&f.cfg.BillingAddr, "billing-addr", "127.0.0.1:9103", "address of the billing gRPC service")
	}
}

func (f *flagSet) service(seed bool) {
	f.StringVar(&f.cfg.Clock, "clock", "system", "business clock: system, or manual (moved only by POST /v1/clock:advance)")
	if seed {
		f.BoolVar(&f.cfg.Seed, "seed", true, "seed the catalog and the demo organizations on first start")
	}
}

// webhooks declares commerce's webhook and audit retention flags.
func (f *flagSet) webhooks() {
	f.IntVar(&f.cfg.AuditRetentionMonths, "audit-retention-months", commerce.DefaultAuditRetentionMonths, "months the audit events are kept; older ones are removed in the background, 1,000 a transaction (0: kept forever)")
	f.BoolVar(&f.cfg.WebhooksAllowPrivate, "webhooks-allow-private", false, "let webhook endpoints be http URLs and resolve to loopback, private or link-local addresses (tests, closed networks); refused otherwise")
}

func (f *flagSet) pdf() {
	f.StringVar(&f.cfg.CJKFont, "cjk-font", "", "TrueType font (.ttf, .ttc) with Chinese and Latin glyphs for Chinese invoice PDFs (default: the first found of fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming)")
}

// limits declares the token buckets of a serving component.
func (f *flagSet) limits() {
	f.Float64Var(&f.cfg.OrgRate, "rate-limit-org", ratelimit.DefaultOrgRate, "requests a second each organization may make of this component (0: no limit)")
	f.IntVar(&f.cfg.OrgBurst, "rate-limit-org-burst", ratelimit.DefaultOrgBurst, "requests an organization may make at once, above its rate")
	f.Float64Var(&f.cfg.CallerRate, "rate-limit-caller", ratelimit.DefaultCallerRate, "requests a second each caller (a user's token) may make of this component (0: no limit)")
	f.IntVar(&f.cfg.CallerBurst, "rate-limit-caller-burst", ratelimit.DefaultCallerBurst, "requests a caller may make at once, above its rate")
}

// limiter is the component's token buckets (nil when both rates are 0).
func (c *config) limiter() *ratelimit.Limiter {
	return ratelimit.New(ratelimit.Config{OrgRate: c.OrgRate, OrgBurst: c.OrgBurst, CallerRate: c.CallerRate, CallerBurst: c.CallerBurst})
}

func (f *flagSet) common() {
	f.StringVar(&f.cfg.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&f.cfg.MetricsAddr, "metrics-addr", "", "address to serve GET /metrics on, in Prometheus's text format (empty: none; the gateway also answers it on its own address)")
	f.StringVar(&f.cfg.LogFormat, "log-format", "text", "log line format: text (key=value) or json (one object a line)")
	f.DurationVar(&f.cfg.Grace, "shutdown-grace", 10*time.Second, "how long calls in flight may finish on shutdown")
}

// parse reads the command line, then SELFSERVE_<FLAG> for every flag not given
// on it: the command line wins over the environment, which wins over defaults.
func (f *flagSet) parse(args []string) (*config, error) {
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, errUsage
		}
		return nil, errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected arguments: %s\n", strings.Join(f.Args(), " "))
		return nil, errUsage
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var err error
	f.VisitAll(func(fl *flag.Flag) {
		env := "SELFSERVE_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[fl.Name] && err == nil {
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	c := f.cfg
	if c.SigningKey == "" && c.DataDir != "" {
		c.SigningKey = filepath.Join(c.DataDir, "signing.key")
	}
	switch c.Store {
	case "", "bbolt":
	case "etcd":
		if len(c.etcdEndpoints()) == 0 {
			return nil, fmt.Errorf("--store etcd needs --etcd-endpoints host:port,...")
		}
	default:
		return nil, fmt.Errorf("--store must be bbolt or etcd, not %q", c.Store)
	}
	if c.OrgRate < 0 || c.CallerRate < 0 || c.OrgBurst < 0 || c.CallerBurst < 0 {
		return nil, fmt.Errorf("--rate-limit-* must not be negative")
	}
	if c.AuditRetentionMonths < 0 {
		return nil, fmt.Errorf("--audit-retention-months must be 0 (keep forever) or more, not %d", c.AuditRetentionMonths)
	}
	if c.Clock != "" && c.Clock != "system" && c.Clock != "manual" {
		return nil, fmt.Errorf("--clock must be system or manual, not %q", c.Clock)
	}
	return c, nil
}

func (c *config) etcdEndpoints() []string {
	var out []string
	for _, e := range strings.Split(c.EtcdEndpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// opener is where the services' stores are: bbolt files in DataDir, or
// prefixes of an etcd cluster, whose client close closes.
func (c *config) opener() (open kv.Opener, close func() error, err error) {
	if c.Store != "etcd" {
		return kv.Bolts(c.DataDir), func() error { return nil }, nil
	}
	cli, err := kv.DialEtcd(c.etcdEndpoints(), c.EtcdDialTimeout)
	if err != nil {
		return nil, nil, err
	}
	return kv.Etcds(cli), cli.Close, nil
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "", "text":
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts))), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
}

func (c *config) signer() (*auth.Signer, error) {
	key, err := auth.LoadOrCreateKey(c.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return auth.NewSigner(key)
}

// serverGCPercent is the garbage collector's target of the serving commands
// when GOGC is not set. A call allocates short-lived garbage (messages, bbolt
// nodes, HTTP/2 frames) while the live heap stays at a few MB, so Go's
// default of 100 collects many times a second under load; 400 costs a few
// more MB of heap under load for about a quarter less CPU per
// purchase (README, "Performance").
const serverGCPercent = 400

// serverMemoryLimit bounds the heap that serverGCPercent lets grow, when
// GOMEMLIMIT is not set: nearer to it the collector runs as often as it must.
const serverMemoryLimit = 256 << 20

// tuneGC sets serverGCPercent and serverMemoryLimit unless GOGC or GOMEMLIMIT
// say otherwise.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(serverGCPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
