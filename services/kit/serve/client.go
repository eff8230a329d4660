package serve

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// Dial opens one long-lived client connection to a selfserve service; callers
// share it. Calls carry the caller's bearer token and language (see Outgoing).
func Dial(addr string) (*grpc.ClientConn, error) { return dial(addr) }

func dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}, opts...)...)
}

// Outgoing returns ctx with the incoming caller's token and Accept-Language
// set as outgoing metadata, for a call to another service on their behalf.
func Outgoing(ctx context.Context) context.Context {
	var kv []string
	if id := auth.FromContext(ctx); id != nil && id.Token != "" {
		kv = append(kv, "authorization", "Bearer "+id.Token)
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(locale.Header); len(v) > 0 {
			kv = append(kv, locale.Header, v[0])
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
