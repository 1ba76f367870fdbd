//go:build !unix

package main

// setPrivateUmask has nothing to set where there is no umask.
func setPrivateUmask() {}
