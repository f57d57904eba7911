package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/worker"
)

// The intake stage publishes each request of a relay event or reconcile request to the
// reconcile topic, with the commit as ordering key, and says the message may be acked only
// once every publish succeeded.
func ExampleIntake() {
	ctx := context.Background()
	srv := pstest.NewServer() // an in-process Pub/Sub; in production, pubsub.NewClient(ctx, project)
	defer srv.Close()
	conn, _ := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	client, _ := pubsub.NewClient(ctx, "p", option.WithGRPCConn(conn))
	defer client.Close()
	client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/reconcile"})

	pub := client.Publisher("projects/p/topics/reconcile")
	pub.EnableMessageOrdering = true // required: the requests carry an ordering key
	defer pub.Stop()
	in := &worker.Intake{Publisher: pub, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Decoder: &events.Decoder{AppID: 42, Identity: "diff-hygiene"}} // our App and check run: others' Re-runs are ignored

	o, err := in.Handle(ctx, &events.Message{ID: "1", Data: []byte(`{"owner":"Octo-Org","repo":"hello-world",` +
		`"url":"https://github.com/Octo-Org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}`)})
	fmt.Println(o, o.Ack(), err)
	// Output:
	// forwarded true <nil>
}
