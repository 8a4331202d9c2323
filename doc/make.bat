@ECHO OFF

pushd %~dp0

REM Command file for Sphinx documentation
REM
REM "make.bat html" builds the documentation into _build\html and executes the
REM gallery examples (a few minutes). For a quick build without running them:
REM     set PMM_DOC_RUN_EXAMPLES=0
REM     make.bat html
REM Strict, as CI does: set SPHINXOPTS=-W --keep-going
REM "make.bat clean" also removes the generated\ and auto_examples\ sources.

if "%SPHINXBUILD%" == "" (
	set SPHINXBUILD=sphinx-build
)
set SOURCEDIR=.
set BUILDDIR=_build

if "%1" == "" goto help
if "%1" == "clean" goto clean

%SPHINXBUILD% >NUL 2>NUL
if errorlevel 9009 (
	echo.
	echo.The 'sphinx-build' command was not found. Make sure you have Sphinx
	echo.installed, then set the SPHINXBUILD environment variable to point
	echo.to the full path of the 'sphinx-build' executable. Alternatively you
	echo.may add the Sphinx directory to PATH.
	echo.
	echo.If you don't have Sphinx installed, grab it from
	echo.https://www.sphinx-doc.org/
	exit /b 1
)

%SPHINXBUILD% -M %1 %SOURCEDIR% %BUILDDIR% %SPHINXOPTS% %O%
goto end

:clean
if exist %BUILDDIR% rmdir /s /q %BUILDDIR%
if exist generated rmdir /s /q generated
if exist auto_examples rmdir /s /q auto_examples
if exist sg_execution_times.rst del /q sg_execution_times.rst
goto end

:help
%SPHINXBUILD% -M help %SOURCEDIR% %BUILDDIR% %SPHINXOPTS% %O%

:end
popd
