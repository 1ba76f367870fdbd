// Package ssm reads runtime configuration and secrets from AWS Systems Manager Parameter Store,
// cached so that a warm Lambda does not call SSM on every invocation.
//
// Configuration lives under one path (e.g. /incident-manager/prod/), one parameter per setting:
//
//	notifications-enabled  String      true | false (the kill switch)
//	subject-prefix         String      e.g. [Incident]
//	site-url               String      the web app's URL, for links in notifications
//	webhooks               StringList  comma-separated Slack-compatible webhook URLs
//
// A missing parameter keeps its ticket.DefaultConfig value.
package ssm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Client is the part of the SSM API used here (*ssm.Client implements it).
type Client interface {
	GetParametersByPath(ctx context.Context, in *awsssm.GetParametersByPathInput, opts ...func(*awsssm.Options)) (*awsssm.GetParametersByPathOutput, error)
	GetParameter(ctx context.Context, in *awsssm.GetParameterInput, opts ...func(*awsssm.Options)) (*awsssm.GetParameterOutput, error)
}

// Parameter names under the configuration path.
const (
	ParamNotificationsEnabled = "notifications-enabled"
	ParamSubjectPrefix        = "subject-prefix"
	ParamSiteURL              = "site-url"
	ParamWebhooks             = "webhooks"
)

// cache holds one value for ttl. A failed refresh keeps serving the previous value, so an SSM
// hiccup (or throttling when many Lambdas start at once) does not fail requests.
type cache[T any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	value   T
	loaded  bool
	expires time.Time
}

func (c *cache[T]) get(ctx context.Context, load func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && c.now().Before(c.expires) {
		return c.value, nil
	}
	v, err := load(ctx)
	if err != nil {
		if c.loaded {
			return c.value, nil
		}
		var zero T
		return zero, err
	}
	c.value, c.loaded, c.expires = v, true, c.now().Add(c.ttl)
	return v, nil
}

// ConfigSource is a ticket.ConfigSource on a Parameter Store path: one recursive
// GetParametersByPath (with decryption, all pages) on first use and again after each TTL.
type ConfigSource struct {
	client Client
	path   string
	cache  cache[ticket.Config]
}

var _ ticket.ConfigSource = (*ConfigSource)(nil)

// NewConfigSource returns a source reading the parameters under path, cached for ttl.
func NewConfigSource(client Client, path string, ttl time.Duration) *ConfigSource {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return &ConfigSource{client: client, path: path, cache: cache[ticket.Config]{ttl: ttl, now: time.Now}}
}

// Load returns the configuration, from the cache while it is fresh.
func (s *ConfigSource) Load(ctx context.Context) (ticket.Config, error) {
	return s.cache.get(ctx, s.fetch)
}

func (s *ConfigSource) fetch(ctx context.Context) (ticket.Config, error) {
	values := map[string]string{}
	p := awsssm.NewGetParametersByPathPaginator(s.client, &awsssm.GetParametersByPathInput{
		Path:           aws.String(strings.TrimSuffix(s.path, "/")),
		Recursive:      aws.Bool(true),
		WithDecryption: aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return ticket.Config{}, fmt.Errorf("read configuration under %s: %w", s.path, err)
		}
		for _, prm := range out.Parameters {
			values[strings.TrimPrefix(aws.ToString(prm.Name), s.path)] = aws.ToString(prm.Value)
		}
	}
	return parse(s.path, values)
}

func parse(path string, values map[string]string) (ticket.Config, error) {
	cfg := ticket.DefaultConfig()
	if v, ok := values[ParamNotificationsEnabled]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return ticket.Config{}, fmt.Errorf("parameter %s%s = %q: want true or false", path, ParamNotificationsEnabled, v)
		}
		cfg.NotificationsEnabled = b
	}
	if v, ok := values[ParamSubjectPrefix]; ok {
		cfg.SubjectPrefix = strings.TrimSpace(v)
	}
	if v, ok := values[ParamSiteURL]; ok {
		cfg.SiteURL = strings.TrimSpace(v)
	}
	if v, ok := values[ParamWebhooks]; ok {
		for _, u := range strings.Split(v, ",") {
			// CloudFormation cannot create an empty StringList, so "-" or "none" stand for none.
			if u = strings.TrimSpace(u); u != "" && u != "-" && u != "none" {
				cfg.Webhooks = append(cfg.Webhooks, u)
			}
		}
	}
	return cfg, nil
}

// Secret is one parameter (typically a SecureString), decrypted and cached.
type Secret struct {
	client Client
	name   string
	cache  cache[string]
}

// NewSecret returns the parameter name, cached for ttl.
func NewSecret(client Client, name string, ttl time.Duration) *Secret {
	return &Secret{client: client, name: name, cache: cache[string]{ttl: ttl, now: time.Now}}
}

// Get returns the decrypted value; its signature fits api.Config.AdminToken.
func (s *Secret) Get(ctx context.Context) (string, error) {
	return s.cache.get(ctx, func(ctx context.Context) (string, error) {
		out, err := s.client.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String(s.name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", fmt.Errorf("read parameter %s: %w", s.name, err)
		}
		return aws.ToString(out.Parameter.Value), nil
	})
}
