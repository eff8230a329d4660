package rawchain

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
)

// The purchase's shape, with no product logic:
//
//	HTTP → mux → front: commit (the subscription, hidden)
//	             → charges server: commit (the charge)
//	             → pools server: commit (the pool)
//	             front: commit (the subscription, shown) → answer
//
// Four durable commits in three files, three gRPC hops and one HTTP request,
// one after the other, as a purchase has them: what the product's purchase
// cannot go below on this machine, whatever its logic costs.

// startPurchase serves the charges and pools servers, each on a file of its
// own, and registers the purchase and the list (see list.go) on front.
func (s *Servers) startPurchase(dir string, front *grpc.Server) error {
	p := &purchaseFront{}
	var err error
	if p.db, err = s.open(dir, "raw-subscriptions.db"); err != nil {
		return err
	}
	charges, pools := &chargeServer{}, &poolServer{}
	if charges.db, err = s.open(dir, "raw-charges.db"); err != nil {
		return err
	}
	if pools.db, err = s.open(dir, "raw-pools.db"); err != nil {
		return err
	}
	if err := fillList(p.db, pools.db); err != nil {
		return err
	}
	for _, b := range []struct {
		register func(*grpc.Server)
		client   func(*grpc.ClientConn)
	}{
		{func(g *grpc.Server) { billingv1.RegisterChargeServiceServer(g, charges) }, func(c *grpc.ClientConn) { p.charges = billingv1.NewChargeServiceClient(c) }},
		{func(g *grpc.Server) { licensingv1.RegisterPoolServiceServer(g, pools) }, func(c *grpc.ClientConn) { p.pools = licensingv1.NewPoolServiceClient(c) }},
	} {
		srv := grpc.NewServer()
		b.register(srv)
		addr, err := s.serveGRPC(srv)
		if err != nil {
			return err
		}
		conn, err := s.dial(addr)
		if err != nil {
			return err
		}
		b.client(conn)
	}
	commercev1.RegisterSubscriptionServiceServer(front, p)
	return nil
}

// put writes one key with Batch: one durable commit, shared with whatever
// else is waiting.
func put(db *bolt.DB, key string, value []byte) error {
	return db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), value) })
}

// purchaseFront records the subscription hidden, has it charged and its
// pool created, then records it shown.
type purchaseFront struct {
	commercev1.UnimplementedSubscriptionServiceServer
	db      *bolt.DB
	charges billingv1.ChargeServiceClient
	pools   licensingv1.PoolServiceClient
	next    atomic.Int64
}

func (f *purchaseFront) PurchaseSubscription(ctx context.Context, req *commercev1.PurchaseSubscriptionRequest) (*commercev1.Subscription, error) {
	if req.GetParent() == "" || req.GetProduct() == "" {
		return nil, errors.New("rawchain: parent and product are required")
	}
	name := req.GetParent() + "/subscriptions/" + time.Now().Format("20060102") + "-" + strconv.FormatInt(f.next.Add(1), 10)
	now := timestamppb.Now()
	sub := &commercev1.Subscription{Name: name, Product: req.GetProduct(), Quantity: req.GetQuantity(), BillingFrequency: req.GetBillingFrequency(),
		BillingProfile: req.GetBillingProfile(), State: commercev1.Subscription_ACTIVE, StartTime: now, TermStartTime: now, AutoRenew: true}
	rec, err := proto.Marshal(sub)
	if err != nil {
		return nil, err
	}
	if err := put(f.db, "hidden/"+name, rec); err != nil {
		return nil, err
	}
	if _, err := f.charges.Charge(ctx, &billingv1.ChargeRequest{BillingProfile: req.GetBillingProfile(), Key: name + "/orders/1", CurrencyCode: "USD",
		Subscription: name, LineItems: []*billingv1.LineItem{{Type: billingv1.LineItem_PURCHASE, Subscription: name, Quantity: req.GetQuantity(), AmountMinor: 600}}}); err != nil {
		return nil, err
	}
	if _, err := f.pools.CreatePool(ctx, &licensingv1.CreatePoolRequest{SubscriptionVersion: 1, Pool: &licensingv1.Pool{Subscription: name,
		Product: req.GetProduct(), TotalLicenses: req.GetQuantity(), State: licensingv1.License_ENABLED}}); err != nil {
		return nil, err
	}
	err = f.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if err := b.Delete([]byte("hidden/" + name)); err != nil {
			return err
		}
		return b.Put([]byte(name), rec)
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// chargeServer records a charge under its key and answers a paid invoice.
type chargeServer struct {
	billingv1.UnimplementedChargeServiceServer
	db   *bolt.DB
	next atomic.Int64
}

func (c *chargeServer) Charge(_ context.Context, req *billingv1.ChargeRequest) (*billingv1.Invoice, error) {
	rec, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	if err := put(c.db, req.GetKey(), rec); err != nil {
		return nil, err
	}
	total := int64(0)
	for _, l := range req.GetLineItems() {
		total += l.GetAmountMinor()
	}
	return &billingv1.Invoice{Name: "billingAccounts/raw/invoices/" + strconv.FormatInt(c.next.Add(1), 10), Status: billingv1.Invoice_PAID,
		LineItems: req.GetLineItems(), SubtotalMinor: total, TotalMinor: total, CurrencyCode: req.GetCurrencyCode()}, nil
}

// poolServer records a pool under its subscription's name and answers it.
type poolServer struct {
	licensingv1.UnimplementedPoolServiceServer
	db *bolt.DB
}

func (p *poolServer) CreatePool(_ context.Context, req *licensingv1.CreatePoolRequest) (*licensingv1.Pool, error) {
	pool := req.GetPool()
	rec, err := proto.Marshal(pool)
	if err != nil {
		return nil, err
	}
	if err := put(p.db, pool.GetSubscription(), rec); err != nil {
		return nil, err
	}
	return pool, nil
}
