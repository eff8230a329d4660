package serve

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/selfserve/selfserve/services/kit/auth"
)

// Service tokens live briefly and are renewed well before they expire.
const (
	serviceTokenTTL   = 10 * time.Minute
	serviceTokenRenew = 5 * time.Minute
)

// serviceCredentials put a SERVICE token on every call a service makes to
// another's internal RPCs, signed with the shared key.
type serviceCredentials struct {
	signer *auth.Signer
	name   string

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

var _ credentials.PerRPCCredentials = (*serviceCredentials)(nil)

func (c *serviceCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.token == "" || !now.Before(c.renewAt) {
		tok, err := c.signer.Sign(auth.Claims{Subject: c.name, Roles: []string{auth.Service}, IssuedAt: now.Unix(), Expires: now.Add(serviceTokenTTL).Unix()})
		if err != nil {
			return nil, err
		}
		c.token, c.renewAt = tok, now.Add(serviceTokenRenew)
	}
	return map[string]string{"authorization": "Bearer " + c.token}, nil
}

// RequireTransportSecurity is false: the services talk over a private network
// (loopback in dev, the compose network in containers).
func (c *serviceCredentials) RequireTransportSecurity() bool { return false }

// DialService opens one long-lived connection from service name to another
// service's internal RPCs: every call carries name's SERVICE token.
func DialService(addr, name string, signer *auth.Signer) (*grpc.ClientConn, error) {
	return dial(addr, grpc.WithPerRPCCredentials(&serviceCredentials{signer: signer, name: name}))
}
