package ticket

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. They are mapped to HTTP statuses in exactly one place (api).
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EINTERNAL     = "internal"
	EPRECONDITION = "precondition_failed"
	// EUNAVAILABLE: the store cannot take writes right now (disk full or read-only, I/O
	// errors); worth a retry soon.
	EUNAVAILABLE = "unavailable"
	// EUNPROCESSABLE is a well-formed request that cannot be carried out as sent, such as an
	// Idempotency-Key reused with a different body.
	EUNPROCESSABLE = "unprocessable"
)

// FieldError names one invalid field by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an application error: its Message is safe to show to a client. Anything that is not
// an *Error is internal and must be logged, never shown.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Err is the cause, for the log only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("ticket: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("ticket: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Unavailable wraps a storage failure that may pass (see EUNAVAILABLE).
func Unavailable(err error) error {
	return &Error{Code: EUNAVAILABLE, Message: "Tickets cannot be stored right now; try again in a moment.", Err: err}
}

// Errorf builds an application error with a client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message, a generic one for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrNotFound is returned by stores for an unknown ticket ID.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "Ticket not found."}

// ErrExecutionNotFound is returned for an unknown workflow execution.
var ErrExecutionNotFound = &Error{Code: ENOTFOUND, Message: "Execution not found."}

// ErrVersionMismatch is returned when an If-Match precondition fails.
var ErrVersionMismatch = &Error{Code: EPRECONDITION, Message: "The ticket has changed since you read it; reload and try again."}

// ErrIdempotencyKeyReused is returned when an Idempotency-Key comes back with a different
// body: retrying cannot help, the client must use a new key (IETF
// draft-ietf-httpapi-idempotency-key-header: 422; 409 is for a request with that key still
// in progress, which the stores cannot observe because they write the key and the ticket in
// one transaction, so a concurrent duplicate waits for the first and gets its replay).
var ErrIdempotencyKeyReused = &Error{Code: EUNPROCESSABLE, Message: "This Idempotency-Key was already used with a different request; send a new key for a new ticket."}

// TransientError is a delivery failure worth retrying (5xx, timeout, refused connection,
// throttling). Its Go type name is the Step Functions error name that Retry matches.
type TransientError struct {
	Err error
	// RetryAfter is how long the receiver asked us to wait (HTTP Retry-After); 0: no preference.
	RetryAfter time.Duration
}

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// PermanentError is a delivery failure that retrying cannot fix (4xx, bad configuration).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsTransient reports whether err (or anything it wraps) is a TransientError.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}
