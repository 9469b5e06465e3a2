#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { trainyardApp } from './app';

// The CLI runs this (cdk.json "app"); the tests build the same app through trainyardApp().
trainyardApp(new App());
