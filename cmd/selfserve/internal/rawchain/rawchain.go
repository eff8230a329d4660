// Package rawchain is the reference `selfserve bench` measures the product
// against: the same libraries (net/http, grpc-gateway, gRPC, bbolt) in the
// same shape as the product's assign and purchase paths, with no product
// logic.
//
//	HTTP → grpc-gateway mux → front gRPC server → back gRPC server → bbolt Batch
//
// The front implements LicensingService.AssignLicenses and UnassignLicenses
// by calling the back over a real loopback connection; the back writes (or
// deletes) one key per user with db.Batch on a file opened with
// MaxBatchDelay = 1 ms, as kv.Open does, and answers a small License.
//
// The front also implements SubscriptionService.PurchaseSubscription in the
// purchase's shape (see purchase.go): two commits of its own around a call
// to a billing-like and a licensing-like server, each committing to a file
// of its own; and SubscriptionService.ListSubscriptions in the list's
// shape (see list.go): a page read from the front's file and its pools from
// the licensing-like server's.
//
// It also serves the cheapest unary call there is (ClockService.GetClock
// answering a constant) twice: on a bare grpc.Server, and behind
// serve.NewServer, the product's interceptor chain (recovery, logging, auth,
// errors), so that the bench can price the chain per request.
package rawchain

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Addrs are where the reference servers listen.
type Addrs struct {
	// HTTP is the base URL of the JSON edge of the chain (http://host:port).
	HTTP string `json:"http"`
	// Front and Back are the two gRPC hops of the chain.
	Front string `json:"front"`
	Back  string `json:"back"`
	// Echo serves ClockService.GetClock on a bare grpc.Server.
	Echo string `json:"echo"`
	// ChainEcho serves the same method behind serve.NewServer; calls need a
	// bearer token signed with the configured key.
	ChainEcho string `json:"chainEcho"`
}

// Config configures the reference.
type Config struct {
	Dir    string       // holds raw.db
	Signer *auth.Signer // verifies the ChainEcho callers
	Logger *slog.Logger // the ChainEcho server's log
}

// Servers are the running reference servers.
type Servers struct {
	Addrs Addrs

	dbs   []*bolt.DB
	http  *http.Server
	grpcs []*grpc.Server
	chain *serve.Server
	conns []*grpc.ClientConn

	closing  sync.Once
	closeErr error
	cancel   context.CancelFunc
	serving  chan error
}

// Start opens the bbolt files and starts every server on 127.0.0.1 ports.
func Start(cfg Config) (*Servers, error) {
	if cfg.Signer == nil {
		return nil, errors.New("rawchain: a signer is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Servers{cancel: cancel, serving: make(chan error, 8)}
	fail := func(err error) (*Servers, error) {
		s.Close()
		return nil, err
	}
	db, err := s.open(cfg.Dir, "raw.db")
	if err != nil {
		return fail(err)
	}
	back := grpc.NewServer()
	licensingv1.RegisterLicensingServiceServer(back, &backServer{db: db})
	if s.Addrs.Back, err = s.serveGRPC(back); err != nil {
		return fail(err)
	}
	backConn, err := s.dial(s.Addrs.Back)
	if err != nil {
		return fail(err)
	}
	front := grpc.NewServer()
	licensingv1.RegisterLicensingServiceServer(front, &frontServer{back: licensingv1.NewLicensingServiceClient(backConn)})
	if err := s.startPurchase(cfg.Dir, front); err != nil {
		return fail(err)
	}
	if s.Addrs.Front, err = s.serveGRPC(front); err != nil {
		return fail(err)
	}
	if err := s.serveHTTP(ctx); err != nil {
		return fail(err)
	}
	echo := grpc.NewServer()
	operatorv1.RegisterClockServiceServer(echo, echoServer{})
	if s.Addrs.Echo, err = s.serveGRPC(echo); err != nil {
		return fail(err)
	}
	chainLis, err := listen()
	if err != nil {
		return fail(err)
	}
	s.chain = serve.NewServer("echo", "echo.selfserve", log, cfg.Signer)
	operatorv1.RegisterClockServiceServer(s.chain, echoServer{})
	go func() {
		if err := s.chain.Serve(ctx, chainLis, time.Second); err != nil {
			s.serving <- err
		}
	}()
	s.Addrs.ChainEcho = chainLis.Addr().String()
	return s, nil
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// open opens a bbolt file of dir with one bucket, batching commits over
// 1 ms as kv.Open does.
func (s *Servers) open(dir, name string) (*bolt.DB, error) {
	db, err := bolt.Open(filepath.Join(dir, name), 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	s.dbs = append(s.dbs, db)
	db.MaxBatchDelay = time.Millisecond
	return db, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err })
}

// dial opens a plain loopback client connection to addr.
func (s *Servers) dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err == nil {
		s.conns = append(s.conns, conn)
	}
	return conn, err
}

// serveHTTP serves the grpc-gateway mux of the front's two services.
func (s *Servers) serveHTTP(ctx context.Context) error {
	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := licensingv1.RegisterLicensingServiceHandlerFromEndpoint(ctx, mux, s.Addrs.Front, opts); err != nil {
		return err
	}
	if err := commercev1.RegisterSubscriptionServiceHandlerFromEndpoint(ctx, mux, s.Addrs.Front, opts); err != nil {
		return err
	}
	httpLis, err := listen()
	if err != nil {
		return err
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			s.serving <- err
		}
	}()
	s.Addrs.HTTP = "http://" + httpLis.Addr().String()
	return nil
}

// serveGRPC serves srv on a new loopback port and answers its address.
func (s *Servers) serveGRPC(srv *grpc.Server) (string, error) {
	lis, err := listen()
	if err != nil {
		return "", err
	}
	s.grpcs = append(s.grpcs, srv)
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.serving <- err
		}
	}()
	return lis.Addr().String(), nil
}

// Failed reports the first server that stopped on its own.
func (s *Servers) Failed() <-chan error { return s.serving }

// Close stops every server and closes the files; later calls answer what
// the first did.
func (s *Servers) Close() error {
	s.closing.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Servers) close() error {
	s.cancel()
	var errList []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errList = append(errList, s.http.Shutdown(ctx))
		cancel()
	}
	for i := len(s.grpcs) - 1; i >= 0; i-- {
		s.grpcs[i].Stop()
	}
	for _, c := range s.conns {
		errList = append(errList, c.Close())
	}
	for _, db := range s.dbs {
		errList = append(errList, db.Close())
	}
	return errors.Join(errList...)
}

var bucket = []byte("assignments")

// backServer writes one key per user with Batch: the durable commit of the chain.
type backServer struct {
	licensingv1.UnimplementedLicensingServiceServer
	db *bolt.DB
}

func (b *backServer) AssignLicenses(_ context.Context, req *licensingv1.AssignLicensesRequest) (*licensingv1.License, error) {
	err := b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, u := range req.GetUsers() {
			if err := bk.Put([]byte(req.GetName()+"\x00"+u), []byte(u)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return license(req.GetName(), int32(len(req.GetUsers()))), nil
}

func (b *backServer) UnassignLicenses(_ context.Context, req *licensingv1.UnassignLicensesRequest) (*licensingv1.License, error) {
	err := b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, u := range req.GetUsers() {
			if err := bk.Delete([]byte(req.GetName() + "\x00" + u)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return license(req.GetName(), 0), nil
}

func license(name string, assigned int32) *licensingv1.License {
	return &licensingv1.License{Name: name, TotalLicenses: 10000, AssignedLicenses: assigned, AvailableLicenses: 10000 - assigned, State: licensingv1.License_ENABLED}
}

// frontServer is the middle hop: it passes each call on to the back.
type frontServer struct {
	licensingv1.UnimplementedLicensingServiceServer
	back licensingv1.LicensingServiceClient
}

func (f *frontServer) AssignLicenses(ctx context.Context, req *licensingv1.AssignLicensesRequest) (*licensingv1.License, error) {
	return f.back.AssignLicenses(ctx, req)
}

func (f *frontServer) UnassignLicenses(ctx context.Context, req *licensingv1.UnassignLicensesRequest) (*licensingv1.License, error) {
	return f.back.UnassignLicenses(ctx, req)
}

// echoServer answers GetClock with a constant: the cheapest unary call.
type echoServer struct {
	operatorv1.UnimplementedClockServiceServer
}

var epoch = timestamppb.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))

func (echoServer) GetClock(context.Context, *operatorv1.GetClockRequest) (*operatorv1.Clock, error) {
	return &operatorv1.Clock{Name: "clock", Mode: operatorv1.Clock_SYSTEM, Now: epoch}, nil
}
