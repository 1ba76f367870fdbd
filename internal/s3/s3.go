// Package s3 reads the messages SES stores in the inbound mail bucket.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Client is the part of the S3 API used (*s3.Client implements it).
type Client interface {
	GetObject(ctx context.Context, in *awss3.GetObjectInput, opts ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
}

// Bucket reads objects of one bucket.
type Bucket struct {
	client Client
	name   string
}

// New returns the bucket name.
func New(client Client, name string) *Bucket { return &Bucket{client: client, name: name} }

// ErrTooLarge is an object over the size asked for.
var ErrTooLarge = errors.New("s3: object too large")

// ErrNotFound is an object that is not there.
var ErrNotFound = errors.New("s3: no such object")

// Get returns the object at key, or ErrTooLarge when it holds more than max bytes.
func (b *Bucket) Get(ctx context.Context, key string, max int64) ([]byte, error) {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	var nk *types.NoSuchKey
	if errors.As(err, &nk) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", b.name, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, ErrTooLarge
	}
	return data, nil
}
