package vm

import "errors"

// Load errors carry the errno the kernel would return; nft prints them as
// "Could not process rule: <strerror>".
var (
	errInval   = errors.New("Invalid argument")
	errRange   = errors.New("Numerical result out of range")
	errNotSupp = errors.New("Operation not supported")
	errNoEnt   = errors.New("No such file or directory")
	errMLink   = errors.New("Too many links")
	errBusy    = errors.New("Device or resource busy")
	errNotImpl = errors.New("not supported by nftgo")
)

var errAFNoSupport = errors.New("Address family not supported by protocol")

var (
	errExist  = errors.New("File exists")
	errNoData = errors.New("No data available")
)

var errOverflow = errors.New("Value too large for defined data type")
