/*
 * hostwarden built-in webshell rules (PHP, JSP, ASP/ASPX). Written for hostwarden; each rule has
 * inert true-positive samples and a normal-application false-positive sample in
 * tests/unit/posture/test_posture_malware.py. Strings are matched case-insensitively where the
 * language is case-insensitive (PHP function names, VBScript, ASP.NET).
 */

rule HW_PHP_Eval_Request_Input
{
    meta:
        description = "PHP code evaluates request input (eval/assert/create_function on $_GET/$_POST/...)"
        severity = "L1"
        language = "php"
    strings:
        $eval = /\b(eval|assert|create_function)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER|FILES)\b/ nocase
        $cb = /\b(call_user_func(_array)?|array_map|usort|array_filter)\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)\b/ nocase
        $var_fn = /\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $pregex = /preg_replace\s*\(\s*['"][^'"]{1,60}\/[a-z]*e[a-z]*['"]\s*,\s*\$_(GET|POST|REQUEST)/ nocase
    condition:
        any of them
}

rule HW_PHP_Command_Exec_Request_Input
{
    meta:
        description = "PHP passes request input to a shell (system/exec/passthru/shell_exec/popen/proc_open/backticks)"
        severity = "L1"
        language = "php"
    strings:
        $fn = /\b(system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(\s*(@\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\b/ nocase
        $tick = /`[^`]{0,20}\$_(GET|POST|REQUEST|COOKIE)\s*\[/
    condition:
        any of them
}

rule HW_PHP_Obfuscated_Eval_Chain
{
    meta:
        description = "PHP eval of decoded data (base64/gzinflate/str_rot13/gzuncompress chains)"
        severity = "L1"
        language = "php"
    strings:
        $chain = /\b(eval|assert)\s*\(\s*(@\s*)?(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|strrev|hex2bin|convert_uudecode)\s*\(/ nocase
        $var_eval = /\$[a-z0-9_]{1,20}\s*=\s*['"](base64_decode|gzinflate|str_rot13|assert|eval)['"]\s*;/ nocase
        $packed = /['"][A-Za-z0-9+\/]{400,}={0,2}['"]/
    condition:
        $chain or ($var_eval and $packed)
}

rule HW_PHP_Known_Shell_Markers
{
    meta:
        description = "Markers of widely used PHP webshells (c99, r57, WSO/FilesMan, b374k, p0wny, Weevely-style)"
        severity = "L1"
        language = "php"
    strings:
        $a = "c99shell" nocase
        $b = "r57shell" nocase
        $c = "FilesMan" fullword
        $d = "b374k" nocase
        $e = "p0wny@shell" nocase
        $f = "WSO " fullword
        $g = "Web Shell by oRb" nocase
        $h = /\$default_action\s*=\s*['"]FilesMan['"]/
    condition:
        any of them
}

rule HW_JSP_Runtime_Exec_Request
{
    meta:
        description = "JSP runs a command taken from the request"
        severity = "L1"
        language = "jsp"
    strings:
        $exec = /Runtime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(\s*request\s*\.\s*getParameter/
        $pb = /new\s+ProcessBuilder\s*\([^)]{0,80}request\s*\.\s*getParameter/
        $exec2 = "Runtime.getRuntime().exec(" ascii
        $req = "request.getParameter(" ascii
    condition:
        $exec or $pb or ($exec2 and $req and filesize < 20KB)
}

rule HW_JSP_ClassLoader_Shell
{
    meta:
        description = "JSP defines classes from request bytes (Behinder/Godzilla-style encrypted shells)"
        severity = "L1"
        language = "jsp"
    strings:
        $define = "defineClass" ascii
        $loader = "ClassLoader" ascii
        $cipher = "javax.crypto.Cipher" ascii
        $input = /request\s*\.\s*(getReader|getInputStream|getParameter)\s*\(/
        $session = /session\s*\.\s*(putValue|setAttribute)\s*\(\s*"u"/
    condition:
        $define and $loader and $input and ($cipher or $session)
}

rule HW_ASP_Eval_Request
{
    meta:
        description = "ASP/ASPX evaluates request input (China Chopper and relatives)"
        severity = "L1"
        language = "asp"
    strings:
        $jscript = /eval\s*\(\s*Request(\.Item)?\s*[\[(]/ nocase
        $vbs = /\b(Execute|ExecuteGlobal|Eval)\s*\(?\s*Request(\.Form|\.QueryString|\.Item)?\s*\(/ nocase
        $proc = /Process\s*\.\s*Start\s*\([^)]{0,120}Request(\.Form|\.QueryString|\.Params)?\s*[\[(]/ nocase
        $psi = /ProcessStartInfo[^;]{0,200};[^;]{0,200}Request(\.Form|\.QueryString|\.Params)?\s*[\[(]/ nocase
        $wscript = /WScript\.Shell[\s\S]{0,300}\.exec\s*\(\s*Request/ nocase
    condition:
        any of them
}
