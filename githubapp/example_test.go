package githubapp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/githubtest"
)

func Example() {
	// The project's GitHub fake stands in for api.github.com here; in production BaseURL is left
	// empty (or set to GitHub Enterprise's "https://HOST/api/v3/") and the key comes from a secret.
	gh := githubtest.NewServer()
	defer gh.Close()
	gh.AddPullRequest("octo-org", "hello-world", githubtest.PullRequest{
		Number: 7, HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"})
	app := gh.App()

	f, err := githubapp.New(app.ID, app.PrivateKeyPEM, githubapp.Options{BaseURL: gh.URL() + "/"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// Installation id 0: looked up from the repository once, then cached.
	client, err := f.Client(ctx, "octo-org", "hello-world", 0)
	if err != nil {
		log.Fatal(err)
	}
	pr, _, err := client.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	if err != nil {
		if githubapp.IsTransient(err) {
			log.Print("GitHub unavailable, try again later: ", err) // e.g. nack the message
			return
		}
		log.Fatal(err)
	}
	fmt.Println(pr.GetHead().GetSHA())

	_, _, err = client.PullRequests.Get(ctx, "octo-org", "hello-world", 8)
	fmt.Println("PR 8 missing, transient:", githubapp.IsTransient(err))
	// Output:
	// 6dcb09b5b57875f334f61aebed695e2e4193db5e
	// PR 8 missing, transient: false
}
