package ssm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/ssm"
	"github.com/incidentmanager/incidents/internal/ticket"
)

const path = "/incident-manager/test"

func TestConfigSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string][2]string // name → type, value
		want   ticket.Config
		err    bool
	}{
		{"Defaults", nil, ticket.DefaultConfig(), false},
		{"OK", map[string][2]string{
			"notifications-enabled": {"String", "false"},
			"subject-prefix":        {"String", "[Prod]"},
			"site-url":              {"String", "https://d111.cloudfront.net"},
			"webhooks":              {"StringList", "https://hooks.example.com/a, https://hooks.example.com/b"},
			"unrelated":             {"String", "x"},
		}, ticket.Config{NotificationsEnabled: false, SubjectPrefix: "[Prod]", SiteURL: "https://d111.cloudfront.net", Webhooks: []string{"https://hooks.example.com/a", "https://hooks.example.com/b"}}, false},
		{"NoWebhooksPlaceholder", map[string][2]string{"webhooks": {"StringList", "-"}}, ticket.DefaultConfig(), false},
		{"ErrKillSwitchValue", map[string][2]string{"notifications-enabled": {"String", "maybe"}}, ticket.Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := awstest.StartSSM(t)
			for n, p := range tc.params {
				f.Put(path+"/"+n, p[0], p[1])
			}
			f.Put("/incident-manager/other/subject-prefix", "String", "[Other]")
			got, err := ssm.NewConfigSource(awstest.SSMClient(f.URL), path, time.Minute).Load(context.Background())
			if tc.err {
				if err == nil {
					t.Fatalf("Load = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("Load\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConfigSourcePagesAndCaches(t *testing.T) {
	f := awstest.StartSSM(t)
	for i := 0; i < 23; i++ {
		f.Put(fmt.Sprintf("%s/zz/extra-%02d", path, i), "String", "x")
	}
	f.Put(path+"/subject-prefix", "String", "[Paged]")
	src := ssm.NewConfigSource(awstest.SSMClient(f.URL), path+"/", time.Hour)
	for i := 0; i < 3; i++ {
		got, err := src.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.SubjectPrefix != "[Paged]" {
			t.Errorf("SubjectPrefix = %q, want [Paged]", got.SubjectPrefix)
		}
	}
	if got, want := f.Calls.Load(), int32(3); got != want {
		t.Errorf("SSM calls = %d, want %d (3 pages once, then the cache)", got, want)
	}
}

func TestConfigSourceServesStaleOnError(t *testing.T) {
	f := awstest.StartSSM(t)
	f.Put(path+"/subject-prefix", "String", "[Cached]")
	src := ssm.NewConfigSource(awstest.SSMClient(f.URL), path, time.Nanosecond)
	if _, err := src.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.FailNext()
	got, err := src.Load(context.Background())
	if err != nil || got.SubjectPrefix != "[Cached]" {
		t.Errorf("Load during an SSM failure = %q, %v; want the cached value", got.SubjectPrefix, err)
	}
	fresh := ssm.NewConfigSource(awstest.SSMClient(f.URL), path, time.Minute)
	f.FailNext()
	if _, err := fresh.Load(context.Background()); err == nil {
		t.Error("first Load during an SSM failure succeeded; want the error")
	}
}

func TestSecret(t *testing.T) {
	f := awstest.StartSSM(t)
	f.Put(path+"/admin-token", "SecureString", "s3cret-token")
	s := ssm.NewSecret(awstest.SSMClient(f.URL), path+"/admin-token", time.Hour)
	for i := 0; i < 2; i++ {
		got, err := s.Get(context.Background())
		if err != nil || got != "s3cret-token" {
			t.Fatalf("Get = %q, %v; want the decrypted value", got, err)
		}
	}
	if got := f.Calls.Load(); got != 1 {
		t.Errorf("SSM calls = %d, want 1", got)
	}
	if _, err := ssm.NewSecret(awstest.SSMClient(f.URL), path+"/missing", time.Hour).Get(context.Background()); err == nil {
		t.Error("Get(missing) succeeded")
	}
}
