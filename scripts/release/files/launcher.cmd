@echo off
rem Runs @SCRIPT@ on the Node runtime unpacked beside it, wherever this folder was put.
"%~dp0..\@NODE@" "%~dp0..\@SCRIPT@" %*
