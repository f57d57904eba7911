package cloudlogtest_test

import (
	"context"
	"fmt"

	"cloud.google.com/go/logging"
	mrpb "google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/prreconciler/prreconciler/cloudlog/cloudlogtest"
)

// The real logging client writes to the fake, which fails on demand and keeps what it stores.
func ExampleServer_Fail() {
	fake := cloudlogtest.NewServer()
	defer fake.Close()
	ctx := context.Background()
	client, err := logging.NewClient(ctx, "my-project", fake.ClientOptions()...)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	// A resource of its own, so the client does not look for one on a metadata server.
	logger := client.Logger("app", logging.CommonResource(&mrpb.MonitoredResource{Type: "global"}))

	fake.Fail(codes.PermissionDenied)
	err = logger.LogSync(ctx, logging.Entry{Payload: "lost", Severity: logging.Info})
	fmt.Println(status.Code(err), len(fake.Entries()))

	fake.Fail(codes.OK)
	err = logger.LogSync(ctx, logging.Entry{Payload: "kept", Severity: logging.Info})
	e := fake.Entries()[0]
	fmt.Println(err, e.GetLogName(), e.GetResource().GetType(), e.GetTextPayload(), fake.Requests())
	// Output:
	// PermissionDenied 0
	// <nil> projects/my-project/logs/app global kept 2
}
