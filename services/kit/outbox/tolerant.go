package outbox

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Tolerant wraps send so that one message the receiver can never take does
// not hold back the rest forever: when a batch is refused as invalid
// (INVALID_ARGUMENT), its messages are sent one by one and only those
// refused are dropped, with an error in the log.
func Tolerant(send Deliver, log *slog.Logger) Deliver {
	return func(ctx context.Context, batch []Message) error {
		err := send(ctx, batch)
		if status.Code(err) != codes.InvalidArgument || len(batch) == 1 {
			if len(batch) == 1 && status.Code(err) == codes.InvalidArgument {
				log.Error("outbox message refused by its receiver; dropped", "err", err)
				return nil
			}
			return err
		}
		for _, m := range batch {
			err := send(ctx, []Message{m})
			if status.Code(err) == codes.InvalidArgument {
				log.Error("outbox message refused by its receiver; dropped", "err", err)
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}
