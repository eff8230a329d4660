// Package metrics is the Prometheus side of every component: one registry per
// process (so `selfserve dev`, which runs every component in one process,
// answers all of them on one /metrics), the gRPC server and client metrics of
// go-grpc-middleware's Prometheus provider, and the product's own series:
// store commits and sizes, outbox and pending-step backlogs, purchases,
// charges and license assignments.
//
// Every series is created once, at package initialisation, so that a
// component started twice in one process (the tests do) never registers a
// collector twice.
package metrics

import (
	"net/http"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes the product's own series.
const Namespace = "selfserve"

// Registry holds every series of this process.
var Registry = prometheus.NewRegistry()

// latencyBuckets spread from 0.1 ms to 10 s: a bbolt commit is about a
// millisecond, an etcd one a few, a call that crosses services tens.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	// GRPCServer counts and times every RPC a service serves:
	// grpc_server_started_total, grpc_server_handled_total{grpc_code},
	// grpc_server_handling_seconds.
	GRPCServer = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	// GRPCClient counts and times every RPC a component makes to another:
	// grpc_client_handled_total, grpc_client_handling_seconds.
	GRPCClient = grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))

	// HTTPRequests counts the JSON edge's answers by route (the HTTP rule's
	// pattern, never a raw path), method and status code.
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "Requests answered by the JSON gateway, by route pattern, method and HTTP status code.",
	}, []string{"route", "method", "code"})
	// HTTPDuration times them.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help: "Time the JSON gateway took to answer, by route pattern and method.", Buckets: latencyBuckets,
	}, []string{"route", "method"})

	// StoreCommit times each durable write transaction of a store.
	StoreCommit = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "store", Name: "commit_seconds",
		Help: "Time of each durable commit of a service's store (a bbolt transaction or group commit, an etcd transaction).", Buckets: latencyBuckets,
	}, []string{"store", "backend"})
	// StoreCommitCalls counts the transactions a commit carried: above the
	// commit count when group commit shares one commit among several calls.
	StoreCommitCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "store", Name: "committed_calls_total",
		Help: "Write transactions committed, counting each call of a group commit.",
	}, []string{"store", "backend"})

	// Purchases counts purchases and trials by outcome (ok, declined,
	// refused, failed).
	Purchases = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "purchases_total",
		Help: "Self-service purchases and trials answered by commerce, by kind (purchase, trial) and outcome (ok, declined, refused, failed).",
	}, []string{"kind", "outcome"})
	// Charges counts billing's charges by outcome (paid, declined, failed,
	// replayed).
	Charges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "charges_total",
		Help: "Charges made by billing, by outcome (paid, declined, pending, replayed, failed).",
	}, []string{"outcome"})
	// Assignments counts users assigned and unassigned.
	Assignments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "license_assignments_total",
		Help: "Users assigned or unassigned a license by licensing, by operation (assign, unassign).",
	}, []string{"op"})
	// WebhookAttempts counts webhook delivery attempts by outcome
	// (delivered, retry, failed).
	WebhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhook_attempts_total",
		Help: "Webhook delivery attempts made by commerce, by outcome (delivered, retry: to be tried again, failed: given up).",
	}, []string{"outcome"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		GRPCServer, GRPCClient,
		HTTPRequests, HTTPDuration,
		StoreCommit, StoreCommitCalls,
		Purchases, Charges, Assignments, WebhookAttempts,
		gauges,
	)
}

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it).
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry, EnableOpenMetrics: true})
}

// ObserveCommit records one durable commit of store that carried calls
// write transactions.
func ObserveCommit(store, backend string, start time.Time, calls int) {
	StoreCommit.WithLabelValues(store, backend).Observe(time.Since(start).Seconds())
	StoreCommitCalls.WithLabelValues(store, backend).Add(float64(calls))
}

// A Gauge is read when Prometheus scrapes: a store's size, an outbox's
// backlog. Read returns the value, or false when it cannot be had now (the
// store is closed); it must be quick and bounded.
type Gauge struct {
	Desc   *prometheus.Desc
	Labels []string
	Read   func() (float64, bool)
}

// The product's scrape-time series and their labels.
var (
	StoreSize = prometheus.NewDesc(Namespace+"_store_size_bytes",
		"Size of a service's store: the bbolt file's data, or the etcd keys under the service's prefix.", []string{"store", "backend"}, nil)
	StoreInUse = prometheus.NewDesc(Namespace+"_store_in_use_bytes",
		"Bytes of a bbolt store's pages that hold data: its size less its free pages, which only a compaction (selfserve compact) gives back.", []string{"store", "backend"}, nil)
	OutboxPending = prometheus.NewDesc(Namespace+"_outbox_pending",
		"Messages written to an outbox and not yet acknowledged by their receiver.", []string{"store", "outbox"}, nil)
	WebhooksQueued = prometheus.NewDesc(Namespace+"_webhook_deliveries_queued",
		"Webhook deliveries queued and not yet delivered or given up, with the events not yet fanned out to endpoints.", []string{"store"}, nil)
	PendingSteps = prometheus.NewDesc(Namespace+"_pending_steps",
		"Subscriptions with cross-service steps (charges, pool changes) written and not yet carried out.", []string{"store"}, nil)
)

// gaugeSet is the collector of every registered Gauge.
type gaugeSet struct {
	mu   sync.Mutex
	next int
	all  map[int]Gauge
}

var gauges = &gaugeSet{all: map[int]Gauge{}}

// AddGauge has g read at every scrape until the returned func removes it.
func AddGauge(g Gauge) (remove func()) {
	gauges.mu.Lock()
	defer gauges.mu.Unlock()
	id := gauges.next
	gauges.next++
	gauges.all[id] = g
	return func() {
		gauges.mu.Lock()
		delete(gauges.all, id)
		gauges.mu.Unlock()
	}
}

func (s *gaugeSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- StoreSize
	ch <- StoreInUse
	ch <- OutboxPending
	ch <- WebhooksQueued
	ch <- PendingSteps
}

func (s *gaugeSet) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	list := make([]Gauge, 0, len(s.all))
	for _, g := range s.all {
		list = append(list, g)
	}
	s.mu.Unlock()
	seen := map[string]bool{}
	for _, g := range list {
		v, ok := g.Read()
		if !ok {
			continue
		}
		m, err := prometheus.NewConstMetric(g.Desc, prometheus.GaugeValue, v, g.Labels...)
		if err != nil {
			continue
		}
		// Two handles on one store (a test reopening it) would repeat a series.
		key := g.Desc.String() + "\x00" + joinLabels(g.Labels)
		if seen[key] {
			continue
		}
		seen[key] = true
		ch <- m
	}
}

func joinLabels(ls []string) string {
	n := 0
	for _, l := range ls {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for _, l := range ls {
		b = append(b, l...)
		b = append(b, 0)
	}
	return string(b)
}
