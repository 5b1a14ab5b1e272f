using System.CommandLine;

namespace Recur.Cli;

static class DemoCommand
{
    public static Command Create()
    {
        var demo = new Command("demo", "Train a small recurrent model on a generated task and show its learning curve.");
        demo.SetAction(_ => 0);
        return demo;
    }
}
