package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/droverhq/drover/api"
)

// A token allowed to submit jobs in "default" only cannot place a job in
// another namespace by naming it in the body (the route was authorized
// for the URL's namespace), and a list without ?namespace shows only the
// namespaces the token may list.
func TestACLNamespaceInBodyAndLists(t *testing.T) {
	s := aclServer(t)
	ctx := context.Background()
	secret := mustToken(t, s.Client, "dev", `namespace "default" { policy = "write" }`)
	dev := clientFor(t, s, secret)

	prod := parseJob(t, `job "secret-prod" {
  namespace = "prod"
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`)
	if _, err := dev.Jobs().Register(ctx, &api.JobRegisterRequest{Job: prod}); statusCode(err) != http.StatusForbidden {
		t.Fatalf("submit to namespace prod with a default-only token: %v, want 403", err)
	}
	if _, err := dev.Jobs().Plan(ctx, prod); statusCode(err) != http.StatusForbidden {
		t.Fatalf("plan in namespace prod with a default-only token: %v, want 403", err)
	}
	if j, _, err := s.Client.Jobs().Info(ctx, "secret-prod", &api.QueryOptions{Params: map[string]string{"namespace": "prod"}}); err == nil {
		t.Fatalf("the refused job was stored: %+v", j)
	}

	// The management token puts it there; the dev token's list hides it.
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: prod}); err != nil {
		t.Fatal(err)
	}
	def := parseJob(t, `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`)
	if _, err := dev.Jobs().Register(ctx, &api.JobRegisterRequest{Job: def}); err != nil {
		t.Fatalf("submit to default with a default token: %v", err)
	}
	list, _, err := dev.Jobs().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "web" {
		t.Fatalf("dev token lists %+v, want only web", list)
	}
	all, _, err := s.Client.Jobs().List(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("management lists %d jobs (%v), want 2", len(all), err)
	}
}
