package billing

import (
	"context"
	"sync"

	"google.golang.org/grpc"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/names"
)

// directory asks the licensing service about organizations and users, as a
// service. An organization's cloud never changes, so organizations are kept.
type directory struct {
	client licensingv1.DirectoryServiceClient

	mu   sync.Mutex
	orgs map[string]*licensingv1.Organization
}

func newDirectory(conn *grpc.ClientConn) *directory {
	return &directory{client: licensingv1.NewDirectoryServiceClient(conn), orgs: map[string]*licensingv1.Organization{}}
}

func (d *directory) Organization(ctx context.Context, org string) (*licensingv1.Organization, error) {
	d.mu.Lock()
	o, ok := d.orgs[org]
	d.mu.Unlock()
	if ok {
		return o, nil
	}
	o, err := d.client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: names.Format(names.Organization, org)})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.orgs[org] = o
	d.mu.Unlock()
	return o, nil
}

func (d *directory) User(ctx context.Context, org, user string) (*licensingv1.User, error) {
	return d.client.GetUser(ctx, &licensingv1.GetUserRequest{Name: names.Format(names.User, org, user)})
}
