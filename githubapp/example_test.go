package githubapp_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/prreconciler/prreconciler/githubapp"
)

func Example() {
	pemKey, err := os.ReadFile(os.Getenv("GITHUB_APP_PRIVATE_KEY_FILE"))
	if err != nil {
		fmt.Println("no key configured")
		return
	}
	f, err := githubapp.New(12345, pemKey, githubapp.Options{
		BaseURL:     "https://api.github.com/",
		RetryBudget: 30 * time.Second,
		Logger:      slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// Installation id 0: looked up from the repository once, then cached.
	gh, err := f.Client(ctx, "octo-org", "hello-world", 0)
	if err != nil {
		if githubapp.IsTransient(err) {
			log.Print("GitHub unavailable, retry later: ", err) // nack the message
			return
		}
		log.Fatal(err)
	}
	pr, _, err := gh.PullRequests.Get(ctx, "octo-org", "hello-world", 7)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pr.GetHead().GetSHA())
}
