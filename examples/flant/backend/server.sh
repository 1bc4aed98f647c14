#!/bin/sh
echo "flant backend says hello"
