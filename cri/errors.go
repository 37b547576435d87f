package cri

import (
	"context"
	"errors"

	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toGRPC converts an error class into its gRPC code, once, at the edge.
// Errors that already carry a gRPC status (from containerd, or built here on
// purpose) keep it.
func toGRPC(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return errgrpc.ToGRPC(err)
}
