//go:build unix

package main

import "syscall"

// setPrivateUmask makes every file and directory this process creates private to its user.
func setPrivateUmask() { syscall.Umask(0o077) }
