package errs

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CodeOf is the canonical code err answers with: a domain error's reason's,
// a status's own, OK for nil and Unknown for anything else.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason.Code
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// Permanent tells whether a call that failed with err would fail again the
// same way if retried as it is: the callee refused the request itself
// (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, PERMISSION_DENIED,
// OUT_OF_RANGE). Anything else (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, a
// transport error...) may go away: retry it.
func Permanent(err error) bool {
	switch CodeOf(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.PermissionDenied, codes.OutOfRange:
		return true
	}
	return false
}
