#!/bin/sh
echo "built by the builder image"
