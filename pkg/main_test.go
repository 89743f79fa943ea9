package main

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
)

// TestZeroCopyCodecLinked: the plugin binary answers QueryData through the
// zerocopy codec (its import in main.go registers it). Its output is the
// same bytes as gRPC's own codec, so the tests through the binary cannot tell
// the two apart; this one fails if the import is dropped. (It names the type
// by reflection: importing the package here would register it by itself.)
func TestZeroCopyCodecLinked(t *testing.T) {
	c := encoding.GetCodecV2(grpcproto.Name)
	typ := reflect.TypeOf(c)
	if typ.PkgPath() != "github.com/traceweave/traceweave/internal/zerocopy" || typ.Name() != "Codec" {
		t.Fatalf("gRPC's %q codec in the plugin binary is %T, want zerocopy.Codec", grpcproto.Name, c)
	}
}
