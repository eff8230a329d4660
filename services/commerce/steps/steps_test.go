package steps_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/steps"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

const org, id = "contoso", "s-1"

// callee is a fake billing and licensing: it records every call and answers
// each with the next error of its script for that method (nil: success).
// Charges are idempotent by key, as billing's are.
type callee struct {
	mu       sync.Mutex
	calls    []string            // "Charge key", "ResizePool v3", ...
	script   map[string][]error  // method → errors to answer, in turn
	invoices map[string]string   // charge key → invoice name
	during   func(method string) // called inside a call, before it answers
}

func (c *callee) answer(method, detail string) error {
	c.mu.Lock()
	c.calls = append(c.calls, method+" "+detail)
	var err error
	if q := c.script[method]; len(q) > 0 {
		err, c.script[method] = q[0], q[1:]
	}
	during := c.during
	c.mu.Unlock()
	if during != nil {
		during(method)
	}
	return err
}

func (c *callee) called() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func (c *callee) Charge(_ context.Context, in *billingv1.ChargeRequest, _ ...grpc.CallOption) (*billingv1.Invoice, error) {
	if err := c.answer("Charge", in.GetKey()); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.invoices == nil {
		c.invoices = map[string]string{}
	}
	if _, ok := c.invoices[in.GetKey()]; !ok {
		c.invoices[in.GetKey()] = "organizations/contoso/billingAccounts/ba/invoices/i" + string(rune('0'+len(c.invoices)))
	}
	total := int64(0)
	for _, l := range in.GetLineItems() {
		total += l.GetAmountMinor()
	}
	return &billingv1.Invoice{Name: c.invoices[in.GetKey()], CurrencyCode: in.GetCurrencyCode(), TotalMinor: total}, nil
}

func (c *callee) CreatePool(_ context.Context, in *licensingv1.CreatePoolRequest, _ ...grpc.CallOption) (*licensingv1.Pool, error) {
	return &licensingv1.Pool{}, c.answer("CreatePool", version(in.GetSubscriptionVersion()))
}

func (c *callee) ResizePool(_ context.Context, in *licensingv1.ResizePoolRequest, _ ...grpc.CallOption) (*licensingv1.Pool, error) {
	return &licensingv1.Pool{}, c.answer("ResizePool", version(in.GetSubscriptionVersion()))
}

func (c *callee) SetPoolState(_ context.Context, in *licensingv1.SetPoolStateRequest, _ ...grpc.CallOption) (*licensingv1.Pool, error) {
	return &licensingv1.Pool{}, c.answer("SetPoolState", version(in.GetSubscriptionVersion()))
}

func (c *callee) DeletePool(_ context.Context, in *licensingv1.DeletePoolRequest, _ ...grpc.CallOption) (*licensingv1.Pool, error) {
	return &licensingv1.Pool{}, c.answer("DeletePool", version(in.GetSubscriptionVersion()))
}

func (c *callee) TransferAssignments(_ context.Context, in *licensingv1.TransferAssignmentsRequest, _ ...grpc.CallOption) (*licensingv1.TransferAssignmentsResponse, error) {
	return &licensingv1.TransferAssignmentsResponse{}, c.answer("TransferAssignments", in.GetTarget())
}

func version(v int64) string { return "v" + string(rune('0'+v)) }

// failingDB fails the next n write transactions before running them, as a
// crash between a send and its commit would leave things.
type failingDB struct {
	kv.DB
	mu sync.Mutex
	n  int
}

func (f *failingDB) Update(fn func(kv.Tx) error) error {
	f.mu.Lock()
	fail := f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return errs.New(errs.Unavailable, "the store is unavailable: injected")
	}
	return f.DB.Update(fn)
}

var (
	declined    = errs.New(errs.PaymentDeclined, "declined").With("decline_code", "insufficient_funds")
	unavailable = errs.New(errs.Unavailable, "licensing is down")
	tooSmall    = errs.New(errs.BelowAssignedLicenses, "3 users are assigned")
	badPeriod   = errs.Field("line_items[0].period_end", "line_items[0] ends before it starts")
)

// A change of the subscription: quantity 5 → 10, charged, then the pool
// resized, then the event. The subscription as it was (quantity 5) is the
// undo record.
func raise(hidden bool) ([]store.Step, *commercev1.Subscription, int32) {
	before := subscription()
	charge := store.Step{Kind: store.StepCharge, Key: before.Name + "/orders/" + store.OrderID(1), Profile: before.BillingProfile, Order: 1,
		Lines: []store.Line{{Type: int32(billingv1.LineItem_ADD_QUANTITY), Quantity: 5, Start: time.Unix(0, 0), End: time.Unix(100, 0), Amount: 5000}}}
	first := store.Step{Kind: store.StepResizePool, Total: 10, Version: 2}
	if hidden {
		first = store.Step{Kind: store.StepCreatePool, Total: 10, Version: 1}
	}
	return []store.Step{charge, first, {Kind: store.StepEvent, EventType: int32(commercev1.Event_QUANTITY_CHANGED), Actor: before.Purchaser}}, before, 10
}

// A reduction in grace: quantity 5 → 2, the pool resized first (it refuses
// to go below its assignments), then the credit charged, then the event.
func lower() ([]store.Step, *commercev1.Subscription, int32) {
	before := subscription()
	credit := store.Step{Kind: store.StepCharge, Key: before.Name + "/orders/" + store.OrderID(1), Profile: before.BillingProfile, Order: 1,
		Lines: []store.Line{{Type: int32(billingv1.LineItem_REMOVE_QUANTITY), Quantity: 3, Start: time.Unix(0, 0), End: time.Unix(100, 0), Amount: -3000}}}
	return []store.Step{{Kind: store.StepResizePool, Total: 2, Version: 2}, credit,
		{Kind: store.StepEvent, EventType: int32(commercev1.Event_QUANTITY_CHANGED), Actor: before.Purchaser}}, before, 2
}

func subscription() *commercev1.Subscription {
	return &commercev1.Subscription{Name: "organizations/contoso/subscriptions/s-1", Product: "products/pro", State: commercev1.Subscription_ACTIVE,
		Purchaser: "organizations/contoso/users/max", Quantity: 5, BillingProfile: "organizations/contoso/billingAccounts/ba/billingProfiles/default"}
}

type harness struct {
	st     *store.Store
	db     *failingDB
	fake   *callee
	engine *steps.Engine
}

// setUp stores the subscription with the steps of raise pending (a
// purchase's, hidden, when hidden).
func setUp(t *testing.T, hidden bool, script map[string][]error) *harness {
	t.Helper()
	pending, before, total := raise(hidden)
	return setUpChange(t, hidden, pending, before, total, script)
}

// setUpChange stores the subscription changed from before to total, with
// the change's steps pending.
func setUpChange(t *testing.T, hidden bool, pending []store.Step, before *commercev1.Subscription, total int32, script map[string][]error) *harness {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "commerce.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	after := proto.CloneOf(before)
	after.Quantity = total
	m := &store.Meta{Version: 2, Currency: "SEK", Pending: pending, Hidden: hidden}
	if !hidden {
		m.Undo, _ = proto.Marshal(before)
	}
	err = st.DB.Update(func(tx kv.Tx) error {
		if _, err := store.AddOrder(tx, org, id, m, &commercev1.Order{Type: commercev1.Order_ADD_QUANTITY}); err != nil {
			return err
		}
		return store.PutSubscription(tx, org, id, "max", after, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{fake: &callee{script: script}}
	h.db = &failingDB{DB: st.DB}
	h.st = &store.Store{DB: h.db}
	h.engine = h.newEngine()
	return h
}

// newEngine is another engine over the same store: a second replica, or
// the process after a restart.
func (h *harness) newEngine() *steps.Engine {
	return &steps.Engine{Store: h.st, Clock: clock.System{}, Charges: h.fake, Pools: h.fake}
}

func (h *harness) state(t *testing.T) (*commercev1.Subscription, *store.Meta, []*commercev1.Event, []*commercev1.Order) {
	t.Helper()
	var sub *commercev1.Subscription
	var m *store.Meta
	var events []*commercev1.Event
	var orders []*commercev1.Order
	err := h.st.DB.View(func(tx kv.Tx) (err error) {
		if sub, m, err = store.GetSubscription(tx, org, id); err != nil {
			return err
		}
		if events, _, err = store.ListEvents(tx, org, nil, 100); err != nil {
			return err
		}
		orders, _, err = store.ListOrders(tx, org, id, nil, 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sub, m, events, orders
}

func TestDrive(t *testing.T) {
	chargeKey := "Charge organizations/contoso/subscriptions/s-1/orders/" + store.OrderID(1)
	for _, tc := range []struct {
		name    string
		hidden  bool
		lower   bool // the change is lower's, not raise's
		script  map[string][]error
		crashes int // failed commits before the first Drive
		drives  int // Drive calls
		// what the last Drive answers, and then
		wantReason string
		wantCalls  []string
		wantQty    int32
		wantLeft   int // pending steps left
		wantEvents int // QUANTITY_CHANGED events written
		declined   string
		invoiced   bool // the order has its invoice
	}{
		{name: "all at once", drives: 1,
			wantCalls: []string{chargeKey, "ResizePool v2"}, wantQty: 10, wantEvents: 1, invoiced: true},
		{name: "decline mid-run undoes the change and sends nothing after it but the pool as it was", drives: 1,
			script:     map[string][]error{"Charge": {declined}},
			wantReason: "PAYMENT_DECLINED", wantCalls: []string{chargeKey, "ResizePool v3", "SetPoolState v4"}, wantQty: 5},
		{name: "a declined purchase stays hidden as declined", hidden: true, drives: 1,
			script:     map[string][]error{"Charge": {declined}},
			wantReason: "PAYMENT_DECLINED", wantCalls: []string{chargeKey}, wantQty: 10, declined: "insufficient_funds"},
		{name: "callee down: what was sent is kept, the rest waits", drives: 1,
			script:     map[string][]error{"ResizePool": {unavailable}},
			wantReason: "SERVICE_UNAVAILABLE", wantCalls: []string{chargeKey, "ResizePool v2"}, wantQty: 10, wantLeft: 2, invoiced: true},
		{name: "callee down then back: the next drive finishes, the charge not sent again", drives: 2,
			script:    map[string][]error{"ResizePool": {unavailable}},
			wantCalls: []string{chargeKey, "ResizePool v2", "ResizePool v2"}, wantQty: 10, wantEvents: 1, invoiced: true},
		{name: "undo after a partial run: the pool refused for good", drives: 1,
			script:     map[string][]error{"ResizePool": {tooSmall}},
			wantReason: "BELOW_ASSIGNED_LICENSES", wantCalls: []string{chargeKey, "ResizePool v2", "ResizePool v3", "SetPoolState v4"}, wantQty: 5, invoiced: true},
		{name: "a reduction's credit refused for good after its resize: the pool is resized back", lower: true, drives: 1,
			script:     map[string][]error{"Charge": {badPeriod}},
			wantReason: "INVALID_FIELD", wantCalls: []string{"ResizePool v2", chargeKey, "ResizePool v3", "SetPoolState v4"}, wantQty: 5},
		{name: "a reduction's credit declined after its resize: the pool is resized back", lower: true, drives: 1,
			script:     map[string][]error{"Charge": {declined}},
			wantReason: "PAYMENT_DECLINED", wantCalls: []string{"ResizePool v2", chargeKey, "ResizePool v3", "SetPoolState v4"}, wantQty: 5},
		{name: "the steps that put the pool back wait for licensing, and the answer is still the refusal", lower: true, drives: 1,
			script:     map[string][]error{"Charge": {badPeriod}, "ResizePool": {nil, unavailable}},
			wantReason: "INVALID_FIELD", wantCalls: []string{"ResizePool v2", chargeKey, "ResizePool v3"}, wantQty: 5, wantLeft: 2},
		{name: "replay after a crash before the commit: the same key and version again", crashes: 1, drives: 2,
			wantCalls: []string{chargeKey, "ResizePool v2", chargeKey, "ResizePool v2"}, wantQty: 10, wantEvents: 1, invoiced: true},
		{name: "a drive of a finished subscription calls nothing", drives: 3,
			wantCalls: []string{chargeKey, "ResizePool v2"}, wantQty: 10, wantEvents: 1, invoiced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := setUp(t, tc.hidden, tc.script)
			if tc.lower {
				pending, before, total := lower()
				h = setUpChange(t, false, pending, before, total, tc.script)
			}
			h.db.n = tc.crashes
			var err error
			for range tc.drives {
				err = h.engine.Drive(context.Background(), org, id)
			}
			if got := errs.ReasonOf(err); got != tc.wantReason {
				t.Fatalf("Drive answered %v, want reason %q", err, tc.wantReason)
			}
			if got := h.fake.called(); strings.Join(got, "; ") != strings.Join(tc.wantCalls, "; ") {
				t.Fatalf("calls %q, want %q", got, tc.wantCalls)
			}
			sub, m, events, orders := h.state(t)
			if sub.GetQuantity() != tc.wantQty || len(m.Pending) != tc.wantLeft || m.Declined != tc.declined {
				t.Fatalf("after: quantity %d, %d steps left, declined %q; want %d, %d, %q", sub.GetQuantity(), len(m.Pending), m.Declined, tc.wantQty, tc.wantLeft, tc.declined)
			}
			if len(events) != tc.wantEvents {
				t.Fatalf("%d events, want %d", len(events), tc.wantEvents)
			}
			if (orders[0].GetInvoice() != "") != tc.invoiced {
				t.Fatalf("order %v: invoiced %v, want %v", orders[0], orders[0].GetInvoice() != "", tc.invoiced)
			}
			if tc.wantLeft == 0 && tc.declined == "" && (m.Undo != nil || m.Hidden) {
				t.Fatalf("a finished change keeps its undo record or stays hidden: %+v", m)
			}
			if tc.wantQty == 5 && !tc.hidden && m.Version != 4 {
				t.Fatalf("an undone change leaves version %d, want 4: the calls that put the pool back, and later ones, must outrank it", m.Version)
			}
		})
	}
}

// TestStaleDriver has a second driver finish every step while the first is
// still waiting for its charge: the first one's commit finds the steps gone
// and writes nothing twice.
func TestStaleDriver(t *testing.T) {
	h := setUp(t, false, nil)
	other := h.newEngine()
	var overtaken atomic.Bool
	h.fake.during = func(method string) {
		// The other driver's own charge comes back here: it must not wait
		// for itself.
		if method == "Charge" && overtaken.CompareAndSwap(false, true) {
			if err := other.Drive(context.Background(), org, id); err != nil {
				t.Errorf("the other driver: %v", err)
			}
		}
	}
	if err := h.engine.Drive(context.Background(), org, id); err != nil {
		t.Fatal(err)
	}
	sub, m, events, _ := h.state(t)
	if sub.GetQuantity() != 10 || len(m.Pending) != 0 || len(events) != 1 {
		t.Fatalf("quantity %d, %d steps left, %d events: want 10, 0, 1", sub.GetQuantity(), len(m.Pending), len(events))
	}
	// The stale driver sent what the other did, with the same charge key
	// and pool version, which the callees take once; only its commit is
	// left out.
	key := "Charge organizations/contoso/subscriptions/s-1/orders/" + store.OrderID(1)
	want := []string{key, key, "ResizePool v2", "ResizePool v2"}
	if got := h.fake.called(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if n := len(h.fake.invoices); n != 1 {
		t.Fatalf("%d invoices, want 1", n)
	}
}

// TestDrivePending resumes what is left in the store, and leaves a
// subscription a call is driving to that call.
func TestDrivePending(t *testing.T) {
	h := setUp(t, false, map[string][]error{"ResizePool": {unavailable}})
	if err := h.engine.Drive(context.Background(), org, id); !errors.Is(err, errs.New(errs.Unavailable, "")) {
		t.Fatalf("first drive: %v", err)
	}
	restarted := h.newEngine()
	if err := restarted.DrivePending(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, m, events, _ := h.state(t); len(m.Pending) != 0 || len(events) != 1 {
		t.Fatalf("after DrivePending: %d steps left, %d events", len(m.Pending), len(events))
	}
}

func TestErrDeclined(t *testing.T) {
	profile := "organizations/contoso/billingAccounts/ba/billingProfiles/default"
	if got := errs.ReasonOf(steps.ErrDeclined("no_payment_method", profile)); got != "PAYMENT_METHOD_REQUIRED" {
		t.Fatalf("a profile without a method: %s", got)
	}
	err := steps.ErrDeclined("card_declined", profile)
	if errs.ReasonOf(err) != "PAYMENT_DECLINED" || errs.MetadataOf(err, "decline_code") != "card_declined" {
		t.Fatalf("a decline: %v", err)
	}
}

// TestDriveLocalStepsOnly: a change that needs no other service (auto-renew
// turned off) writes its event in the first commit and calls nothing.
func TestDriveLocalStepsOnly(t *testing.T) {
	before := subscription()
	event := store.Step{Kind: store.StepEvent, EventType: int32(commercev1.Event_AUTO_RENEW_CHANGED), Actor: before.Purchaser}
	h := setUpChange(t, false, []store.Step{event}, before, 5, nil)
	if err := h.engine.Drive(context.Background(), org, id); err != nil {
		t.Fatal(err)
	}
	_, m, events, _ := h.state(t)
	if len(m.Pending) != 0 || len(events) != 1 || events[0].GetType() != commercev1.Event_AUTO_RENEW_CHANGED {
		t.Fatalf("%d steps left, events %v: want none left and the AUTO_RENEW_CHANGED event", len(m.Pending), events)
	}
	if calls := h.fake.called(); len(calls) != 0 {
		t.Fatalf("calls %q, want none", calls)
	}
}
